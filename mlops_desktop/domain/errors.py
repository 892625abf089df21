"""User-facing errors: each carries one sentence that says what went wrong and what to do."""


class UserError(Exception):
    """An error the user can fix; its message is shown as it is, never with a traceback."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProjectFileError(UserError):
    """A project file cannot be created or opened as asked."""


class NotAProjectError(ProjectFileError):
    """The file is not an mlops_desktop project."""


class CorruptProjectError(ProjectFileError):
    """The file looks like a project but is damaged."""


class UntrustedProjectError(ProjectFileError):
    """The file holds something mlops_desktop did not make and will not run or load."""


class NewerSchemaError(ProjectFileError):
    """The file was written by a newer version of mlops_desktop."""


class ReadOnlyProjectError(ProjectFileError):
    """A change was asked of a project opened read-only."""


class DiskFullError(ProjectFileError):
    """A change could not be saved: the disk (or the file's size limit) is full."""


#: Refusals that say the file takes no more changes: the app offers to browse it read-only.
WRITES_REFUSED = (DiskFullError, ReadOnlyProjectError)


def error_class(name: str) -> type[UserError]:
    """The user error class called ``name`` (for an error sent by name from another
    process); UserError itself for any other name."""
    found = globals().get(name)
    return found if isinstance(found, type) and issubclass(found, UserError) else UserError


class BlobCorruptError(UserError):
    """A stored payload no longer matches its sha256."""


class Cancelled(Exception):  # noqa: N818 - reads better at raise sites than "CancelledError"
    """The user cancelled a task; whatever it started has been undone."""
