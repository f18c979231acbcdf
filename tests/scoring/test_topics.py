"""Offline topic terms (daemon/topics.py): the same thing said differently in one
language gives a shared term; feelings and generic support words give none."""

from __future__ import annotations

import pytest

from daemon.topics import extract_topic, topic_of_label

# Per language: four customers about one broken login, each in their own words, and the
# term all of them must share.
SAME_THING = {
    "en": ("login", ["I can't log in since this morning.", "Login fails with an error every time.",
                     "Since the update the sign-in page just spins.",
                     "Nobody on the team can log on."]),
    "de": ("anmeld", ["Ich kann mich seit heute Morgen nicht mehr anmelden.",
                      "Die Anmeldung funktioniert nicht, immer kommt ein Fehler.",
                      "Seit dem Update schlägt jede Anmeldung fehl.",
                      "Anmelden geht nicht, unser ganzes Team ist ausgesperrt."]),
    "fr": ("connect", ["Impossible de me connecter depuis ce matin.",
                       "Je n'arrive plus à me connecter depuis la mise à jour.",
                       "Toute l'équipe ne peut plus se connecter.",
                       "Je ne peux pas me connecter, le site refuse mon mot de passe."]),
    "es": ("sesion", ["No puedo iniciar sesión desde esta mañana.",
                      "El inicio de sesión falla cada vez con un error.",
                      "Desde la actualización no consigo iniciar sesión.",
                      "Nadie del equipo puede iniciar sesión."]),
    "pt": ("login", ["Não consigo fazer login desde hoje de manhã.",
                     "O login falha sempre com um erro.",
                     "Desde a atualização não consigo entrar no login.",
                     "Ninguém da equipe consegue fazer login."]),
}


@pytest.mark.parametrize("language", sorted(SAME_THING))
def test_one_problem_in_different_words_shares_a_term(language: str) -> None:
    term, texts = SAME_THING[language]
    for text in texts:
        topic = extract_topic(text)
        assert topic.language == language, text
        assert term in topic.terms, (text, topic)


def test_feelings_and_generic_support_words_are_no_topic() -> None:
    for text in ["This is unacceptable!!! I am furious, worst service ever.",
                 "Still waiting for a reply after three days, please help.",
                 "Ich warte immer noch auf eine Antwort, das ist eine Frechheit.",
                 "J'attends toujours une réponse, c'est inacceptable.",
                 "Sigo esperando una respuesta, es inaceptable.",
                 "Ainda estou esperando uma resposta, é inaceitável."]:
        assert extract_topic(text).terms == (), text


def test_words_are_kept_beside_their_stems_for_quoting() -> None:
    topic = extract_topic("The app keeps crashing when I open invoices.")
    assert topic.terms[:3] == ("app", "crash", "invoic")
    assert topic.words[:3] == ("app", "crashing", "invoices")
    assert topic_of_label("login failure").terms[0] == "login"


def test_hostile_and_huge_input_is_bounded() -> None:
    topic = extract_topic("login " * 100_000 + "\u202e\x00 payment")
    assert topic.terms == ("login",)
    assert len(extract_topic(" ".join(f"word{n}x" for n in range(10_000))).terms) <= 8
