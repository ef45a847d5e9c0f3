"""One module per area of the console; each is a router of pages over the api."""
