from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("users/<int:user_id>/", views.user, name="api-user"),
    path("items/<slug:slug>/", views.async_item, name="api-item"),
]
