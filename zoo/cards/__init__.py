"""Model cards (`cards/<name>/README.md`), the collection card (`cards/README.md`) and the static site."""

from zoo.cards.render import check_cards, render_card, render_collection_card, write_cards
from zoo.cards.site import render_site

__all__ = ["check_cards", "render_card", "render_collection_card", "render_site", "write_cards"]
