"""German and English texts of the bot. `text(key, lang, **values)` picks and fills one."""

from __future__ import annotations

from bot.answering.refusals import REFUSALS

LANGUAGES = ("de", "en")

_TEXTS: dict[str, dict[str, str]] = {
    "start": {
        "de": "Hallo! Ich beantworte Fragen zu einem Dokument, indem ich es wörtlich zitiere.",
        "en": "Hello! I answer questions about a document by quoting it word for word.",
    },
    "document_line": {
        "de": "Dokument: <b>{title}</b>{date} (Sprache: {language})",
        "en": "Document: <b>{title}</b>{date} (language: {language})",
    },
    "documents_line": {
        "de": "Ich kenne {count} Dokumente, darunter <b>{title}</b>.",
        "en": "I know {count} documents, among them <b>{title}</b>.",
    },
    "how_to_ask": {
        "de": "Stell deine Frage auf Deutsch oder Englisch. Zum Beispiel:",
        "en": "Ask your question in German or English. For example:",
    },
    "help": {
        "de": (
            "So funktioniert es:\n"
            "• Schreib mir eine Frage – ich antworte mit den passenden Sätzen und sage, wo sie stehen.\n"
            "• <b>Kontext</b> zeigt den ganzen Absatz, <b>Mehr</b> weitere Fundstellen.\n"
            "• In Gruppen: /ask Frage, oder erwähne mich.\n"
            "• In jedem Chat: @{bot} Frage (Inline-Modus).\n"
            "Steht die Antwort nicht im Dokument, sage ich das."
        ),
        "en": (
            "How it works:\n"
            "• Send me a question – I reply with the matching sentences and where they stand.\n"
            "• <b>Context</b> shows the whole paragraph, <b>More</b> further passages.\n"
            "• In groups: /ask question, or mention me.\n"
            "• In any chat: @{bot} question (inline mode).\n"
            "If the document does not answer it, I say so."
        ),
    },
    "place": {
        "de": "Absatz {paragraph}, Satz {sentence}",
        "en": "paragraph {paragraph}, sentence {sentence}",
    },
    "place_range": {
        "de": "Absatz {paragraph}, Sätze {sentence}–{last}",
        "en": "paragraph {paragraph}, sentences {sentence}–{last}",
    },
    "place_page": {"de": "Seite {page}, {place}", "en": "page {page}, {place}"},
    "translated_note": {
        "de": "Zitiert aus dem Original ({language}).",
        "en": "Quoted from the {language} original.",
    },
    "abstain": {
        "de": "Dazu steht im Dokument nichts – ich möchte nichts Falsches zitieren.",
        "en": "The document does not say anything about that – I'd rather not quote something unrelated.",
    },
    "abstain_suggest": {
        "de": "Das Dokument behandelt zum Beispiel:",
        "en": "The document covers, for example:",
    },
    "context_title": {
        "de": "Kontext – {title}, Absatz {paragraph}",
        "en": "Context – {title}, paragraph {paragraph}",
    },
    "context_title_page": {
        "de": "Kontext – {title}, Seite {page}, Absatz {paragraph}",
        "en": "Context – {title}, page {page}, paragraph {paragraph}",
    },
    "no_more": {"de": "Keine weiteren passenden Stellen.", "en": "No further matching passages."},
    "more_title": {"de": "Weitere Stellen:", "en": "More passages:"},
    "button_context": {"de": "📄 Kontext", "en": "📄 Context"},
    "button_more": {"de": "➕ Mehr", "en": "➕ More"},
    "feedback_thanks": {"de": "Danke für die Rückmeldung!", "en": "Thanks for the feedback!"},
    "too_long": {
        "de": "Die Frage ist zu lang ({length} Zeichen). Bitte fasse dich kürzer (höchstens {limit}).",
        "en": "That question is too long ({length} characters). Please keep it under {limit}.",
    },
    "empty_question": {
        "de": "Bitte schreib eine Frage in Worten, z. B. „{example}“",
        "en": "Please write a question in words, e.g. “{example}”",
    },
    "late_answer": {
        "de": "Entschuldige die späte Antwort – deine Frage kam am {date} um {time} UTC an.",
        "en": "Sorry for the late answer – your question arrived on {date} at {time} UTC.",
    },
    "rate_limited": {
        "de": "Das waren viele Fragen auf einmal. Bitte warte einen Moment und frag dann weiter.",
        "en": "That was a lot of questions at once. Please wait a moment, then ask again.",
    },
    "not_text": {
        "de": "Ich verstehe nur Textnachrichten. Schreib mir deine Frage bitte als Text.",
        "en": "I only understand text messages. Please type your question.",
    },
    "edited": {
        "de": "Bearbeitete Nachrichten beantworte ich nicht – schick die Frage bitte neu.",
        "en": "I don't answer edited messages – please send the question again.",
    },
    "unknown_command": {
        "de": "Diesen Befehl kenne ich nicht. /help zeigt, was ich kann.",
        "en": "I don't know that command. /help shows what I can do.",
    },
    "ask_usage": {
        "de": "So fragst du: /ask Wer besuchte Pjöngjang?",
        "en": "Usage: /ask Who visited Pyongyang?",
    },
    "error": {
        "de": "Da ist leider etwas schiefgegangen. Bitte versuch es gleich noch einmal.",
        "en": "Sorry, something went wrong. Please try again in a moment.",
    },
    "expired": {
        "de": "Diese Schaltfläche ist veraltet. Bitte stell die Frage neu.",
        "en": "This button has expired. Please ask the question again.",
    },
    "inline_no_answer": {
        "de": "Das Dokument beantwortet das nicht",
        "en": "The document does not answer this",
    },
    "inline_no_answer_hint": {
        "de": "Die Beispielfragen unten beantwortet es.",
        "en": "It does answer the example questions below.",
    },
    "inline_rate_limited": {
        "de": "Zu viele Anfragen – bitte kurz warten",
        "en": "Too many queries – please wait a moment",
    },
    "cmd_start": {"de": "Begrüßung und Beispielfragen", "en": "Welcome and example questions"},
    "cmd_help": {"de": "So funktioniert der Bot", "en": "How the bot works"},
    "cmd_ask": {"de": "Eine Frage zum Dokument stellen", "en": "Ask a question about the document"},
    "cmd_status": {"de": "Index, Zähler und Laufzeit", "en": "Index, counters and uptime"},
    "cmd_reindex": {"de": "Den Index neu aufbauen", "en": "Rebuild the index"},
    "cmd_docs": {"de": "Die indexierten Dokumente", "en": "The indexed documents"},
    "cmd_add": {
        "de": "Eine Webseite hinzufügen: /add <Adresse>",
        "en": "Add a web page: /add <address>",
    },
    "cmd_remove": {
        "de": "Ein Dokument entfernen: /remove <id>",
        "en": "Remove a document: /remove <id>",
    },
    "cmd_rollback": {
        "de": "Zur vorigen Indexversion zurück",
        "en": "Serve the previous index version",
    },
    "cmd_feedback": {"de": "Die letzten 👎-Bewertungen", "en": "The latest 👎 votes"},
    "cmd_unanswered": {"de": "Fragen ohne Antwort", "en": "Questions without an answer"},
    "admin_refused": {
        "de": "Das dürfen nur die Betreiber dieses Bots. Stell mir gern eine Frage zum Dokument!",
        "en": "Only the people running this bot can do that. Feel free to ask me about the document!",
    },
    "admin_already_running": {
        "de": "Der Index wird gerade schon neu aufgebaut. Bitte warte, bis das fertig ist.",
        "en": "A reindex is already running. Please wait until it has finished.",
    },
    "admin_reindex_started": {"de": "Index wird neu aufgebaut …", "en": "Rebuilding the index …"},
    "admin_progress": {
        "de": "Index wird neu aufgebaut … Schritt: {stage}, {done}/{total}",
        "en": "Rebuilding the index … stage: {stage}, {done}/{total}",
    },
    "admin_progress_embed": {
        "de": "Index wird neu aufgebaut … Sätze eingebettet: {done}/{total}",
        "en": "Rebuilding the index … sentences embedded: {done}/{total}",
    },
    "admin_reindex_failed": {
        "de": "Neuaufbau fehlgeschlagen: {reason}\nDer bisherige Index bleibt in Betrieb.",
        "en": "Reindex failed: {reason}\nThe previous index keeps serving.",
    },
    "admin_report": {
        "de": (
            "Index neu aufgebaut.\n"
            "Dokumente: {documents} (neu {docs_added}, entfernt {docs_removed}, "
            "geändert {docs_changed}, unverändert {docs_unchanged})\n"
            "Sätze: {sentences} (neu {sent_added}, entfernt {sent_removed}, "
            "unverändert {sent_unchanged})\n"
            "Eingebettet: {embedded} · Modell: {model} · {seconds:.1f} s\n"
            "Index-Hash: {digest}"
        ),
        "en": (
            "Index rebuilt.\n"
            "Documents: {documents} (added {docs_added}, removed {docs_removed}, "
            "changed {docs_changed}, unchanged {docs_unchanged})\n"
            "Sentences: {sentences} (added {sent_added}, removed {sent_removed}, "
            "unchanged {sent_unchanged})\n"
            "Embedded: {embedded} · model: {model} · {seconds:.1f} s\n"
            "Index hash: {digest}"
        ),
    },
    "admin_skipped": {
        "de": "Nicht indexiert ({count}):",
        "en": "Not indexed ({count}):",
    },
    "admin_status": {
        "de": (
            "Dokumente ({count}):\n{documents}\n"
            "Sätze: {sentences}\nModell: {model}, zweites Modell: {reranker} {second}\n"
            "Index: {index_type}, Hash {digest}\n"
            "Gebaut: {built_at}\nLaufzeit: {uptime}\n"
            "Beantwortete Fragen: {answered}\nEnthaltungsquote: {abstention_rate}\n"
            "Bewertungen: 👍 {up} / 👎 {down}\nLetzter Neuaufbau: {last}\n"
            "Dauerhaftigkeit: {durability}"
        ),
        "en": (
            "Documents ({count}):\n{documents}\n"
            "Sentences: {sentences}\nModel: {model}, second model: {reranker} {second}\n"
            "Index: {index_type}, hash {digest}\n"
            "Built at: {built_at}\nUptime: {uptime}\n"
            "Questions answered: {answered}\nAbstention rate: {abstention_rate}\n"
            "Votes: 👍 {up} / 👎 {down}\nLast reindex: {last}\n"
            "Durability: {durability}"
        ),
    },
    "admin_durability_ok": {
        "de": "in Ordnung (jedes Update steht im Journal, bevor es bestätigt wird)",
        "en": "ok (every update is in the journal before it is confirmed)",
    },
    "admin_durability_degraded": {
        "de": "EINGESCHRÄNKT seit {when}: das Journal schlägt fehl ({reason}); die Antworten gehen weiter, aber ein Absturz kann jetzt Fragen verlieren oder doppelt beantworten",
        "en": "DEGRADED since {when}: the journal fails ({reason}); answering goes on, but a crash now can lose questions or answer them twice",
    },
    "admin_status_doc": {
        "de": "• {title} – {sentences} Sätze, Prüfsumme {checksum}",
        "en": "• {title} – {sentences} sentences, checksum {checksum}",
    },
    "admin_last_none": {"de": "noch keiner", "en": "none yet"},
    "admin_last_ok": {
        "de": "erfolgreich ({when}), Hash {digest}",
        "en": "succeeded ({when}), hash {digest}",
    },
    "admin_last_failed": {
        "de": "fehlgeschlagen ({when}): {reason}",
        "en": "failed ({when}): {reason}",
    },
    "admin_docs": {"de": "Dokumente (id – Titel):", "en": "Documents (id – title):"},
    "admin_docs_details": {
        "de": "{format}, Sätze: {sentences}",
        "en": "{format}, sentences: {sentences}",
    },
    "admin_docs_details_pages": {
        "de": "{format}, Seiten: {pages}, Sätze: {sentences}",
        "en": "{format}, pages: {pages}, sentences: {sentences}",
    },
    "admin_docs_empty": {
        "de": "Es sind keine Dokumente indexiert.",
        "en": "No documents are indexed.",
    },
    "admin_remove_usage": {
        "de": "So entfernst du ein Dokument: /remove <id> (siehe /docs)",
        "en": "Usage: /remove <id> (see /docs)",
    },
    "admin_no_such_document": {
        "de": "Ein Dokument „{doc_id}“ gibt es nicht. /docs zeigt alle.",
        "en": "There is no document “{doc_id}”. /docs lists them.",
    },
    "admin_confirm_remove": {
        "de": "Dokument „{doc_id}“ wirklich entfernen und den Index neu aufbauen?",
        "en": "Really remove the document “{doc_id}” and rebuild the index?",
    },
    "admin_confirm_replace": {
        "de": "„{name}“ gibt es schon. Ersetzen und den Index neu aufbauen?",
        "en": "“{name}” exists already. Replace it and rebuild the index?",
    },
    "admin_yes": {"de": "Ja", "en": "Yes"},
    "admin_no": {"de": "Nein", "en": "No"},
    "admin_cancelled": {
        "de": "Abgebrochen – nichts wurde geändert.",
        "en": "Cancelled – nothing was changed.",
    },
    "admin_removed": {
        "de": "Dokument „{doc_id}“ wird entfernt: Es verlässt den Index mit dem Neuaufbau, der jetzt beginnt (schlägt er fehl, bleibt es).",
        "en": "Removing the document “{doc_id}”: it leaves the index with the reindex starting now (if that fails, it stays).",
    },
    "admin_saved": {"de": "„{name}“ gespeichert.", "en": "Saved “{name}”."},
    "admin_add_usage": {
        "de": "So fügst du eine Webseite hinzu: /add https://…",
        "en": "Usage: /add https://…",
    },
    "admin_add_refused": {
        "de": "Diese Seite füge ich nicht hinzu: {reason}",
        "en": "I can't add this page: {reason}",
    },
    "admin_upload_refused": {
        "de": "Diese Datei nehme ich nicht an: {reason}",
        "en": "I can't accept this file: {reason}",
    },
    "admin_rolled_back": {
        "de": "Zurückgesetzt. Jetzt in Betrieb: Version {version}, Hash {digest}",
        "en": "Rolled back. Now serving version {version}, hash {digest}",
    },
    "admin_rollback_failed": {
        "de": "Zurücksetzen nicht möglich: {reason}",
        "en": "Cannot roll back: {reason}",
    },
    "admin_feedback_title": {"de": "Die letzten 👎-Bewertungen:", "en": "The latest 👎 votes:"},
    "admin_feedback_empty": {"de": "Noch keine 👎-Bewertungen.", "en": "No 👎 votes yet."},
    "admin_unanswered_title": {
        "de": "Zuletzt unbeantwortete Fragen:",
        "en": "Recent questions without an answer:",
    },
    "admin_unanswered_empty": {
        "de": "Bisher blieb keine Frage unbeantwortet.",
        "en": "No question has gone unanswered so far.",
    },
    "language_de": {"de": "Deutsch", "en": "German"},
    "language_en": {"de": "Englisch", "en": "English"},
}


_TEXTS.update(REFUSALS)


def text(key: str, lang: str, **values: object) -> str:
    """The text `key` in `lang` ("de" or "en"; anything else gets English), filled with `values`."""
    variants = _TEXTS[key]
    template = variants.get(lang) or variants["en"]
    return template.format(**values) if values else template


def language_name(code: str, lang: str) -> str:
    """The name of language `code` in `lang` ("German", "Deutsch"), or the code itself."""
    key = f"language_{code}"
    return text(key, lang) if key in _TEXTS else code
