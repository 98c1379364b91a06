"""Form widgets shared by every app.

Dates: a text field that shows and takes ISO dates (yyyy-mm-dd) whatever the browser's locale (issue 20).
A browser's own date field follows the browser's language, not the page's: a Japanese page in an English
browser showed mm/dd/yyyy and a Japanese browser yyyy/mm/dd, so a coordinator copying a date from a
Japanese record could not trust what the field showed. The server parses yyyy-mm-dd only (DATE_INPUT_FORMATS
of the form field falls back to Django's, which include it).
"""

from django import forms

ISO_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs=None):
        attrs = {"placeholder": "yyyy-mm-dd", "pattern": ISO_DATE_PATTERN, "inputmode": "numeric",
                 "maxlength": "10", "autocomplete": "off", "class": "form-control", **(attrs or {})}
        super().__init__(attrs=attrs, format="%Y-%m-%d")
