from __future__ import annotations

from django.urls import include, path, re_path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("users/<int:user_id>/", views.user, name="user"),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.archive, name="archive"),
    path("unavailable/", views.unavailable, name="unavailable"),
    path("boom/", views.boom, name="boom"),
    path("health/", views.health, name="health"),
    path("async/items/<slug:slug>/", views.async_item, name="async-item"),
    path("async/boom/", views.async_boom, name="async-boom"),
    path("api/", include("tests.integrations.django_site.api_urls")),
]
