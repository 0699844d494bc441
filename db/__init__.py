"""Database layer: models, engine set-up, migrations, and the query functions others share."""
