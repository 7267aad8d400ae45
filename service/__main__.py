"""`python -m service` is the same as the `accounts-service` command."""

from service.cli import main

raise SystemExit(main())
