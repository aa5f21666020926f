"""Errors the clinical room raises: each names the note, file or table at fault."""

from __future__ import annotations


class ClinicalError(Exception):
    """Base class: the message is meant for the user, one line."""


class SchemaError(ClinicalError):
    """The database lacks a CDM table the room needs, or cannot be reached."""


class VocabularyError(ClinicalError):
    """A vocabulary file is missing, has the wrong columns, or the wrong encoding."""


class NoteError(ClinicalError):
    """One note cannot be processed (bad encoding, control characters, empty); the run goes on."""

    def __init__(self, note_id, message: str):
        self.note_id = note_id
        super().__init__(f"note {note_id}: {message}")
