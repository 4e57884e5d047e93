class ApiError(Exception):
    """A refusal in the standard's terms: an HTTP status and a description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
