"""``{% map_config %}``: what the map script needs to know, as JSON the page carries
(``<script type="application/json">``, which the Content Security Policy allows)."""

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import json_script
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def map_config(context):
    user = context.get("user")
    config = {
        "tilesUrl": settings.MAP_TILES_URL,
        "tilesSubdomains": settings.MAP_TILES_SUBDOMAINS,
        "attribution": settings.MAP_TILES_ATTRIBUTION,
        "coordinates": settings.MAP_COORDINATES,
        "gridsUrl": reverse("grid_shapes"),
        "placeAtUrl": reverse("place_at"),
        "text": {
            "plain": _("Plain background: no base map is configured."),
            "plainAdmin": _(
                "No base map: set MAP_TILES_URL (README, “Maps”). Grids, buildings and "
                "markers are drawn all the same."
            ),
            "offline": _("The base map cannot be reached; grids and markers are still drawn."),
        },
        "isAdmin": bool(user and getattr(user, "is_superuser", False)),
    }
    return json_script(config, "map-config")
