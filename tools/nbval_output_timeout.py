"""A pytest plugin for the chapter runs (``make nbval``): nbval waits a fixed 5 seconds for each
output message of a cell that has finished, which a busy machine can exceed after a long cell.
Wait up to 60 seconds instead; a cell that really produces no more output still fails then."""

OUTPUT_TIMEOUT_SECONDS = 60


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_TIMEOUT_SECONDS
