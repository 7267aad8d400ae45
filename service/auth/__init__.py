"""Who is calling: tokens, API keys, passwords, and the guards that check roles."""
