"""Fifth-round mechanisms of the offline scorer, in every language, with look-alikes:
threats of a public shaming (one star, everyone told), no-show facts (nobody came, not a
single call), a refused delay, disbelief asked as a question, contempt without swear words."""

from __future__ import annotations

import pytest

from daemon.scoring.local import LocalScorer


def value(scorer: LocalScorer, text: str) -> float:
    return scorer.score([text])[0].score


@pytest.mark.parametrize("text", [
    # public shaming
    "I'll be leaving a one star review on every site I can find.",
    "Ich gebe euch einen Stern bei Google und jeder soll erfahren, wie ihr arbeitet.",
    "Je vais vous mettre une étoile sur Google, tout le monde saura comment vous travaillez.",
    "Les dejaré una estrella en Google y que todo el mundo sepa cómo trabajan.",
    "Vou dar 1 estrela na loja e toda a gente vai saber como tratam os clientes.",
    # no-show facts
    "The plumber was booked for Friday. Nobody came, not a single call.",
    "Der Monteur war für Freitag bestellt. Niemand kam, kein einziger Anruf.",
    "Le plombier devait passer vendredi. Personne n'est venu, pas un seul appel.",
    "El fontanero tenía que venir el viernes. No vino nadie, ni una llamada.",
    "O canalizador vinha na sexta. Ninguém apareceu, nem uma ligação.",
    # refused delay
    "No, not another week. The contract starts on Monday.",
    "Nein, nicht noch eine Woche. Der Vertrag beginnt am Montag.",
    "Non, pas une semaine de plus. Le contrat commence lundi.",
    "No, otra semana no. El contrato empieza el lunes.",
    "Não, mais uma semana não. O contrato começa na segunda.",
    # disbelief asked as a question
    "Seriously, I have to drive to a branch to change my address?",
    "Ernsthaft, ich muss für eine Adressänderung in die Filiale?",
    "Sérieusement, je dois aller en agence pour changer d'adresse ?",
    "¿En serio tengo que ir a una oficina para cambiar la dirección?",
    "Sério que eu preciso ir à loja para mudar a morada?",
    # contempt without swear words
    "You can go to hell, all of you.",
    "Ihr seid echt das Letzte.",
    "Allez vous faire voir avec vos excuses.",
    "Que os den, me voy a la competencia.",
    "Serviço miserável do princípio ao fim.",
])
def test_angry_without_anger_words_reads_negative(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) <= -0.3


@pytest.mark.parametrize("text", [
    "I left a five star review, you deserve it!",
    "Ich habe euch 5 Sterne bei Google gegeben, danke!",
    "Je vous ai mis 5 étoiles sur Google, merci !",
    "Les he puesto 5 estrellas en Google, ¡gracias!",
    "Deixei 5 estrelas no Google, vocês merecem!",
    "Is someone coming on Friday? Please let me know.",
    "Kommt am Freitag jemand vorbei? Bitte kurze Info.",
    "Est-ce que quelqu'un passe vendredi ? Merci de me dire.",
    "¿Viene alguien el viernes? Avísenme, por favor.",
    "Vem alguém na sexta? Avisem, por favor.",
    "Seriously, you fixed it already? Thanks a lot!",
    "Sério que vocês já resolveram? Obrigado!",
    "Das ist das letzte Mal, dass ich das Formular schicke, versprochen.",
    "Não aceito mais cartas em papel, enviem por e-mail por favor.",
    "No, thanks, another week is fine.",
])
def test_look_alikes_stay_calm(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) > -0.3
