"""The host's live order feed: a read model of the flowing records and the web page over it."""
