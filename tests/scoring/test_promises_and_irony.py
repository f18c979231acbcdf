"""Issue 9, fourth round: the kinds of miss of the third blind batch, in every language,
with their look-alikes -- refusing to pay and leaving for a competitor told as done,
charges for what was promised free, "you told me five days; today is the 20th", closing
accounts in an ultimatum, "Enough." on its own, irony after an exclamation ("Ach wie
schön,"), "I want to say thanks" (not a demand), and thanks after trouble that is over
(low expectations surpassed, a rough stretch ended, a service back)."""

from __future__ import annotations

import pytest

from daemon.scoring.cues import find_cues
from daemon.scoring.lexicon import tokenize
from daemon.scoring.local import LocalScorer

CLEARLY_ANGRY = -0.7


def families(text: str, language: str) -> set[str]:
    return {hit.family for hit in find_cues(tokenize(text), language)}


def value(scorer: LocalScorer, text: str) -> float:
    return scorer.score([text])[0].score


@pytest.mark.parametrize(("language", "text", "family"), [
    # Refusing to pay is a decision.
    ("en", "We are not paying that surcharge.", "decided"),
    ("de", "Diese Nachzahlung werden wir auf keinen Fall zahlen.", "decided"),
    ("fr", "Nous ne paierons pas ces pénalités.", "decided"),
    ("es", "No pienso pagar ese recargo.", "decided"),
    ("pt", "Não vamos pagar essa multa.", "decided"),
    # A move to a competitor told as done.
    ("en", "We have moved our business elsewhere.", "decided"),
    ("de", "Ich bin inzwischen zu einem anderen Anbieter gewechselt.", "decided"),
    ("fr", "Nous sommes déjà passés chez un concurrent.", "decided"),
    ("es", "Hemos contratado con otro proveedor.", "decided"),
    ("pt", "Já contratei outro fornecedor.", "decided"),
    # Charged for what was promised free or at a fixed price.
    ("en", "The installation was guaranteed free and now there is a fee of 80 on my bill.",
     "broken_promise"),
    ("de", "Der Versand war kostenlos zugesagt, trotzdem wurden 6 Euro berechnet.",
     "broken_promise"),
    ("fr", "Le conseiller m'avait dit que la carte était gratuite, on me facture 3 euros.",
     "broken_promise"),
    ("es", "Me aseguraron una tarifa fija y este mes me cobran 10 euros más.",
     "broken_promise"),
    ("pt", "Garantiram que a instalação era grátis e agora cobram 90 reais.",
     "broken_promise"),
    # "You told me N days", then the date now.
    ("en", "You said three working days. It is the 19th.", "broken_promise"),
    ("de", "Mir wurde eine Lieferung in zwei Tagen zugesagt. Heute ist schon der 14.",
     "broken_promise"),
    ("fr", "Vous m'avez dit sous 48 heures. Nous sommes mardi.", "broken_promise"),
    ("es", "Me dijo la agente que en una semana. Hoy es 30.", "broken_promise"),
    ("pt", "Me falaram que era em cinco dias úteis. Hoje já é dia 22.", "broken_promise"),
    # Closing accounts in an ultimatum.
    ("en", "Correct the statement by Monday or I close all my accounts.", "ultimatum"),
    ("de", "Entweder das wird korrigiert oder ich schließe alle meine Konten.", "ultimatum"),
    ("fr", "Corrigez ce prélèvement, sinon je ferme mes comptes.", "ultimatum"),
    ("es", "Arreglen el cargo o cierro mi cuenta.", "ultimatum"),
    ("pt", "Corrijam a cobrança ou encerro as minhas contas.", "ultimatum"),
    # "Enough." as a sentence of its own.
    ("en", "Enough. Nobody ever calls back.", "escalation"),
    ("de", "Jetzt reicht es! Keiner ruft zurück.", "escalation"),
    ("fr", "Ça suffit. Personne ne rappelle.", "escalation"),
    ("es", "Basta ya. Nadie devuelve las llamadas.", "escalation"),
    ("pt", "Chega! Ninguém retorna as ligações.", "escalation"),
])
def test_each_new_cue_fires_in_every_language(language: str, text: str, family: str) -> None:
    assert family in families(text, language)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "I was told the first month is free. Is that still the offer?"),
    ("en", "Is that enough for the form?"),
    ("en", "I want to say a big thank you to the team today."),
    ("de", "Wurde mir gesagt, dass die Einrichtung kostenlos ist?"),
    ("de", "Reicht das als Nachweis?"),
    ("de", "Ich will mich heute einfach mal bei euch bedanken."),
    ("fr", "On m'a dit que la livraison était gratuite, c'est toujours le cas ?"),
    ("fr", "Je veux juste vous remercier aujourd'hui."),
    ("es", "¿Me dijeron que la instalación es gratis, es correcto?"),
    ("es", "Quiero agradecer hoy mismo al técnico."),
    ("pt", "A fatura chega amanhã por e-mail."),
    ("pt", "Quero agradecer hoje a atenção da equipe."),
])
def test_the_look_alikes_stay_calm(language: str, text: str) -> None:
    assert not families(text, language) & {"decided", "broken_promise", "escalation",
                                           "demand", "ultimatum"}


@pytest.mark.parametrize("text", [
    "Oh how lovely, the parcel went back to the depot again. Nobody told me.",
    "Ach wie schön, der Techniker ist wieder nicht gekommen und keiner sagt Bescheid.",
    "Quelle surprise, la facture est encore fausse et personne ne répond.",
    "Qué maravilla, otra vez sin luz y nadie contesta.",
    "Que lindo, de novo sem sinal e ninguém responde.",
])
def test_irony_after_an_exclamation_reads_angry(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < -0.5


@pytest.mark.parametrize("text", [
    "Oh wow, the replacement arrived two days early. Thanks a lot!",
    "Ach wie schön, jetzt läuft alles. Vielen Dank!",
    "Que lindo, chegou tudo certinho. Obrigada!",
])
def test_an_exclamation_of_real_joy_stays_positive(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) > 0


@pytest.mark.parametrize("text", [
    # Low expectations surpassed.
    "Honestly I did not expect much from the chat support, but it was quick and friendly.",
    "Ich hatte nicht viel erwartet, aber der Umtausch war schnell und unkompliziert.",
    "Je ne m'attendais pas à grand-chose, mais le service client a été rapide et efficace.",
    "No esperaba mucho de la garantía, pero la reparación fue rápida y perfecta.",
    "Não esperava muito do suporte, mas foi rápido e resolveram tudo.",
    # A rough stretch, over now, and thanks.
    "The last few weeks with the dropped calls were painful, but since Monday everything runs perfectly. Thanks!",
    "Die letzten Tage mit den Abstürzen waren mühsam, aber seit dem Update läuft alles einwandfrei. Danke!",
    "Ces dernières semaines avec les coupures ont été pénibles, mais depuis lundi tout fonctionne parfaitement. Merci !",
    "Las últimas semanas con los cortes fueron duras, pero desde el lunes todo funciona perfecto. ¡Gracias!",
    "As últimas semanas com as quedas foram difíceis, mas desde segunda tudo funciona perfeitamente. Obrigado!",
    # A service back after an outage.
    "After four days without TV the signal is back up and running. Thank you!",
    "Nach vier Tagen ohne Telefon geht es endlich wieder. Danke!",
    "Après quatre jours sans télévision, tout remarche. Merci !",
    "Después de cuatro días sin teléfono, por fin funciona. ¡Gracias!",
    "Depois de quatro dias sem telefone, finalmente voltou. Valeu!",
])
def test_thanks_after_trouble_that_is_over_is_positive(offline: LocalScorer,
                                                       text: str) -> None:
    assert value(offline, text) > 0


@pytest.mark.parametrize("text", [
    "I did not expect the repair to take five weeks.",
    "No esperaba que la reparación tardara cinco semanas.",
    "Não esperava que o conserto demorasse cinco semanas.",
])
def test_an_expectation_let_down_stays_a_complaint(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < 0


@pytest.mark.parametrize("text", [
    "You promised a fixed rate for two years and the bill went up by 20. I will not pay it.",
    "Uns wurde ein Festpreis zugesagt, jetzt ist die Rechnung von 40 auf 55 gestiegen. Das zahlen wir nicht.",
    "On nous avait garanti un tarif fixe et la facture augmente de 15 euros. Nous ne paierons pas.",
    "Nos garantizaron un precio fijo y ahora la factura sube 15 euros. No vamos a pagar eso.",
    "Prometeram valor fixo e agora a fatura aumentou 30 reais. Não vou pagar isso.",
])
def test_a_broken_price_promise_refused_reads_angry(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < CLEARLY_ANGRY


@pytest.mark.parametrize(("text", "language"), [
    ("I am withdrawing all my savings from your bank.", "en"),
    ("Wir ziehen unser Geld bei Ihnen ab.", "de"),
    ("Je retire tout mon argent de chez vous.", "fr"),
    ("He contratado con otra compañía, tramiten la baja.", "es"),
    ("Contratei outra operadora, providenciem o cancelamento.", "pt"),
])
def test_money_moved_out_or_another_provider_is_churn(offline: LocalScorer, text: str,
                                                     language: str) -> None:
    score = offline.score([text])[0]
    assert score.language == language
    assert "churn_risk" in score.signals


@pytest.mark.parametrize("text", [
    "Thank you for waiving the fee on my cancellation, much appreciated.",
    "Vielen Dank für die unkomplizierte Abwicklung meiner Kündigung.",
    "Merci pour la rapidité du traitement de ma résiliation, c'est apprécié.",
    "Gracias por gestionar mi cancelación tan rápido, muy amables.",
    "Obrigado pela agilidade no meu cancelamento, foram muito atenciosos.",
])
def test_thanks_for_how_a_cancellation_was_handled_is_positive(offline: LocalScorer,
                                                              text: str) -> None:
    assert value(offline, text) > 0


@pytest.mark.parametrize("text", [
    "Thanks for your help so far. Cancel my subscription today.",
    "Danke für nichts. Ich kündige meinen Vertrag.",
    "Gracias por la ayuda. Cancelen mi contrato.",
])
def test_a_cancellation_beside_thanks_stays_negative(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < -0.3


@pytest.mark.parametrize("text", [
    "Just wanted to say: the replacement arrived in only two days. Impressive service.",
    "Nur kurz: der Ersatz war bereits nach zwei Tagen da. Starker Service.",
    "Petit mot : le remplacement est arrivé en seulement deux jours. Service impressionnant.",
    "Solo quería decir que el reemplazo llegó en solo dos días. Un servicio impresionante.",
    "Só queria dizer que a troca chegou em apenas dois dias. Atendimento impressionante.",
])
def test_a_duration_told_as_quick_is_no_wait(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) > 0


@pytest.mark.parametrize("text", [
    "The replacement broke again in only two days.",
    "Der Ersatz war bereits nach zwei Tagen wieder kaputt.",
])
def test_a_quick_failure_stays_a_complaint(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < 0
