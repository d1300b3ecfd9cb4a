"""A small Django project for tests/integrations/test_django.py (settings are configured
by that test's fixture)."""
