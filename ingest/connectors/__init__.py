"""Live platform connectors: Facebook, YouTube, Shopee, TikTok (via a local bridge), webhooks.

Each connector is a source for both modes: it emits Comment and ViewerCount records (and the
session's end) through the machinery in `base` — dedupe, resumable checkpoints, backoff and
metrics — so a connector module holds only its platform's wire format.
"""
