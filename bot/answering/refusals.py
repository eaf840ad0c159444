"""Why a document or a web address is refused, in German and English (see bot/answering/i18n.py).

`upload_<reason>` words a DocumentError's reason (bot/retrieval/documents.py, bot/formats), for
uploads and for the files a reindex skips; `url_<reason>` a FetchError's (bot/app/fetch.py).
"""

from __future__ import annotations

REFUSALS: dict[str, dict[str, str]] = {
    "upload_too_large": {
        "de": "die Datei hat {size} Bytes, erlaubt sind höchstens {limit}",
        "en": "the file is {size} bytes; the limit is {limit} bytes",
    },
    "upload_binary": {
        "de": "„{name}“ ist eine Binärdatei, kein Text",
        "en": "“{name}” is a binary file, not text",
    },
    "upload_not_utf8": {
        "de": "„{name}“ ist kein UTF-8-Text (Byte {byte})",
        "en": "“{name}” is not UTF-8 text (byte {byte})",
    },
    "upload_no_text": {
        "de": "„{name}“ enthält keinen Text",
        "en": "“{name}” contains no text",
    },
    "upload_control_characters": {
        "de": "„{name}“ sieht binär aus (voller Steuerzeichen)",
        "en": "“{name}” looks binary: it is full of control characters",
    },
    "upload_unsafe_name": {
        "de": "„{name}“ ist kein sicherer Dateiname: bitte nur Buchstaben, Ziffern, „.“, „-“ "
        "und „_“",
        "en": "“{name}” is not a safe file name: use letters, digits, '.', '-' and '_' only",
    },
    "upload_suffix": {
        "de": "„{name}“ endet auf „{suffix}“; erlaubt sind {accepted}",
        "en": "“{name}” has the suffix “{suffix}”; accepted: {accepted}",
    },
    "upload_not_a_document": {
        "de": "das ist keine Datei",
        "en": "that is not a file",
    },
    "upload_no_text_layer": {
        "de": "„{name}“ hat keine Textebene (gescannt?)",
        "en": "“{name}” has no text layer (scanned?)",
    },
    "upload_encrypted": {
        "de": "„{name}“ ist verschlüsselt und ohne sein Passwort nicht lesbar",
        "en": "“{name}” is encrypted: it cannot be read without its password",
    },
    "upload_corrupt_pdf": {
        "de": "„{name}“ ist kein lesbares PDF ({detail})",
        "en": "“{name}” is not a readable PDF ({detail})",
    },
    "upload_corrupt_docx": {
        "de": "„{name}“ ist keine lesbare Word-Datei ({detail})",
        "en": "“{name}” is not a readable Word file ({detail})",
    },
    "upload_zip_bomb": {
        "de": "„{name}“ würde sich auf {size:,} Bytes entpacken (erlaubt sind {limit:,}): abgelehnt als mögliche Zip-Bombe",
        "en": "“{name}” would unpack to {size:,} bytes (the limit is {limit:,}): refused as a possible zip bomb",
    },
    "upload_no_main_text": {
        "de": "„{name}“ hat keinen Haupttext (nur Navigation, Hinweise oder gar nichts)",
        "en": "“{name}” has no main text (only navigation, notices or nothing at all)",
    },
    "upload_bad_metadata": {
        "de": "die Metadaten „{meta}“ zu „{name}“ sind kein JSON-Objekt",
        "en": "the metadata “{meta}” of “{name}” is not a JSON object",
    },
    "upload_duplicate": {
        "de": "„{name}“ heißt wie „{other}“; nur „{other}“ wird indexiert",
        "en": "“{name}” has the same name as “{other}”; only “{other}” is indexed",
    },
    "upload_unreadable": {
        "de": "„{name}“ lässt sich nicht lesen ({detail})",
        "en": "“{name}” cannot be read ({detail})",
    },
    "url_scheme": {
        "de": "„{url}“ ist keine http- oder https-Adresse",
        "en": "“{url}” is not an http or https address",
    },
    "url_unresolvable": {
        "de": "den Rechner „{host}“ gibt es nicht (DNS)",
        "en": "the host “{host}” cannot be resolved",
    },
    "url_blocked": {
        "de": "„{host}“ liegt unter {address}, einer privaten, lokalen oder reservierten Adresse; solche Adressen rufe ich nicht ab",
        "en": "“{host}” is at {address}, a private, loopback, link-local or reserved address; I don't fetch those",
    },
    "url_status": {
        "de": "der Server antwortete mit {status}",
        "en": "the server answered {status}",
    },
    "url_type": {
        "de": "die Adresse liefert „{content_type}“, keine Webseite und kein Dokument",
        "en": "the address gives “{content_type}”, not a web page or document",
    },
    "url_too_large": {
        "de": "die Seite ist größer als {limit:,} Bytes",
        "en": "the page is larger than {limit:,} bytes",
    },
    "url_timeout": {
        "de": "die Seite kam nicht innerhalb von {seconds} s",
        "en": "the page did not arrive within {seconds} s",
    },
    "url_redirects": {
        "de": "mehr als {limit} Weiterleitungen",
        "en": "more than {limit} redirects",
    },
    "url_failed": {
        "de": "Abruf fehlgeschlagen ({detail})",
        "en": "fetching it failed ({detail})",
    },
}
