"""The peer: GET and POST /api/accounts as a FastAPI + SQLAlchemy 2 + pydantic v2 + PyJWT team writes them."""
