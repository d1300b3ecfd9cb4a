"""A Django project in one file, timed per URL pattern; requests sent with Django's test
client. In a real project the two settings below go in settings.py."""

import django
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="example",
    MIDDLEWARE=["perfguard.django.PerfguardMiddleware"],  # first: it times the rest
    PERFGUARD={"storage": None},  # keyword arguments of PerformanceTracker
    PERFGUARD_EXCLUDE=["/health"],
)
django.setup()


def order(request, order_id):  # type: ignore[no-untyped-def]
    return HttpResponse(f"order {order_id}")


def health(request):  # type: ignore[no-untyped-def]
    return HttpResponse("ok")


urlpatterns = [
    path("api/", include([path("orders/<int:order_id>/", order)])),
    path("health/", health),
]

import perfguard.django  # noqa: E402

client = Client()
for order_id in range(50):
    client.get(f"/api/orders/{order_id}/")
    client.get("/health/")  # excluded: never recorded
tracker = perfguard.django.get_tracker()
name = "GET api/orders/<int:order_id>/"  # the included URLconf's pattern, joined
stats = tracker.stats(name)
print(f"operations: {tracker.operations()}")
print(f"{name}: {stats['sample_count']} calls, p50 {stats['recent_p50']:.6f}s")
