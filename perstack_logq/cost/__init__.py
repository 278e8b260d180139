"""What a history cost in USD: prices (shipped and the user's), the model of every run, and
the reports of ``perstack log cost``. Prices live in two small tables that the cost views
read at query time, so a new price list needs no new sync."""
