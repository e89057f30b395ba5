"""Page and fragment views, one module per section of the product."""
