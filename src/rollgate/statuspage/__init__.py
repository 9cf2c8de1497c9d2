"""The public status page: components and their states, incidents with their public
updates, scheduled maintenance and history (``summary``), as JSON (``views``) and as an Atom
feed (``feed``)."""
