"""The running application: the services opened once (`services`), admin operations,
fetching documents by URL, the update journal, counters and feedback, and the watcher that
follows a shared index."""
