"""Issue 9 mechanisms of the offline scorer, in every language, with their look-alikes:
praise over harm (sarcasm without a praising opener), a cold decision to leave, anger
carried by a dated log of follow-ups, colloquial threats to report, and positives that
use negative words (negated complaints, churn intent that is over, early delivery)."""

from __future__ import annotations

import pytest

from daemon.scoring.dated import dated_chase
from daemon.scoring.lexicon import tokenize
from daemon.scoring.local import LocalScorer


def value(scorer: LocalScorer, text: str) -> float:
    return scorer.score([text])[0].score


@pytest.mark.parametrize("text", [
    "So the new version erased my whole playlist library. Superb work, really.",
    "Das neue Update hat meine Notizen gelöscht. Ganz hervorragende Arbeit, wirklich.",
    "Votre nouvelle application a supprimé tous mes favoris. Excellent travail, bravo.",
    "La nueva versión borró todas mis fotos. Un trabajo magnífico, enhorabuena.",
    "A nova versão apagou todos os meus contatos. Trabalho excelente, parabéns.",
])
def test_praise_over_harm_reads_as_sarcasm(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < -0.5


@pytest.mark.parametrize("text", [
    "The update deleted my files, but your support restored them within an hour. Excellent work!",
    "Great new release, the export is twice as fast. Thanks!",
    "Die neue Version ist hervorragend, alles läuft schneller. Tolle Arbeit!",
    "La nouvelle version est excellente, tout est plus rapide. Bravo !",
    "La nueva versión es excelente, todo va más rápido. ¡Buen trabajo!",
    "A nova versão está excelente, tudo mais rápido. Parabéns!",
    "Order placed Monday, shipped Tuesday, arrived Wednesday. Still amazed, thanks!",
])
def test_genuine_praise_and_thanks_for_a_fix_stay_positive(offline: LocalScorer,
                                                            text: str) -> None:
    assert value(offline, text) > 0


def test_losing_something_yourself_is_not_harm_done(offline: LocalScorer) -> None:
    # Not read as sarcasm (it was -0.83 when any "lost" counted as harm).
    assert value(offline, "Excellent app, I lost 5 kg with it!") > -0.3


@pytest.mark.parametrize("text", [
    "Please terminate my contract at the end of the month. I have switched to another provider.",
    "Schließen Sie mein Konto. Ich habe bei der Konkurrenz unterschrieben.",
    "Clôturez mon compte dès aujourd'hui, je suis passé chez un concurrent.",
    "Cancelen mi contrato hoy. Me he cambiado a otra compañía.",
    "Encerrem meu contrato hoje. Mudei para outra operadora.",
])
def test_a_cold_decision_to_leave_is_negative(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) <= -0.45


@pytest.mark.parametrize("text", [
    "Close my account. I do not want any retention offers.",
    "Ich kündige zum Monatsende. Rückgewinnungsangebote können Sie sich sparen.",
    "Je résilie mon abonnement. Inutile de me rappeler pour une offre.",
    "Den de baja mi cuenta. No quiero ninguna oferta.",
    "Cancelem minha conta. Não quero nenhuma oferta.",
])
def test_refusing_retention_reads_angry(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < -0.7


@pytest.mark.parametrize("text", [
    "How do I cancel my subscription?",
    "Wie kann ich mein Abo kündigen?",
    "Comment résilier mon abonnement ?",
    "¿Cómo puedo cancelar mi suscripción?",
    "Como faço para cancelar minha assinatura?",
])
def test_a_question_about_cancelling_stays_neutral(offline: LocalScorer, text: str) -> None:
    score = offline.score([text])[0]
    assert score.score > -0.3  # a neutral request, not a complaint
    assert "churn_risk" in score.signals  # a rule still sends it to a person


@pytest.mark.parametrize("text", [
    "Refund requested 2 April. Chased 9 April. Chased 16 April. Today is 30 April and nothing.",
    "Am Montag hieß es Mittwoch, am Mittwoch hieß es Freitag. Heute ist Dienstag.",
    "Le lundi on m'a dit mercredi, le mercredi on m'a dit vendredi. Aujourd'hui mardi, rien.",
    "El lunes me dijeron miércoles, el miércoles me dijeron viernes. Hoy es martes y nada.",
    "Na segunda disseram quarta-feira, na quarta disseram sexta-feira. Hoje é terça e nada.",
])
def test_a_dated_log_of_follow_ups_is_angry(offline: LocalScorer, text: str) -> None:
    assert value(offline, text) < -0.7


@pytest.mark.parametrize("text", [
    "I ordered on 3 May and delivery is due on 7 May. Can I add a gift note?",
    "Bestellt am 3. Mai, Lieferung am 7. Mai. Kann ich noch eine Karte beilegen?",
    "Commande du 3 mai, livraison le 7 mai. Puis-je ajouter un message ?",
    "Pedido del 3 de mayo, entrega el 7 de mayo. ¿Puedo añadir una nota?",
    "Pedido de 3 de maio, entrega dia 7 de maio. Posso incluir um cartão?",
    "Na segunda vez que liguei, hoje, me atenderam bem. Obrigado!",
])
def test_a_neutral_message_with_dates_is_not_a_chase(offline: LocalScorer, text: str) -> None:
    assert dated_chase(tokenize(text)) is None
    assert value(offline, text) > -0.3


@pytest.mark.parametrize(("text", "signal"), [
    ("I'm going to report you to the data protection people. Unbelievable.", "legal_threat"),
    ("Ich bin mit euch fertig. Vergesst es. Ich zeige euch an.", "legal_threat"),
    ("C'est fini. Je vous dénonce à la CNIL.", "legal_threat"),
    ("Se acabó. Os denuncio ante protección de datos.", "legal_threat"),
    ("Chega. Vou denunciar vocês na ANPD.", "legal_threat"),
])
def test_a_colloquial_threat_to_report_is_a_legal_threat(offline: LocalScorer, text: str,
                                                          signal: str) -> None:
    score = offline.score([text])[0]
    assert signal in score.signals
    assert score.score <= -0.5


@pytest.mark.parametrize("text", [
    "Not bad at all, the headphones sound great.",
    "Gar nicht mal so übel, das Ladegerät funktioniert tadellos.",
    "Pas mal du tout, le chargeur fonctionne très bien.",
    "No está nada mal, el cargador funciona muy bien.",
    "Não é nada mal, o carregador funciona muito bem.",
    "I have nothing to complain about, everything arrived on time.",
    "Ich habe nichts zu beanstanden, alles kam pünktlich.",
    "Je n'ai rien à redire, tout est arrivé à l'heure.",
    "No tengo ninguna queja, todo llegó a tiempo.",
    "Não tenho do que reclamar, tudo chegou no prazo.",
    "The parcel came three days early and well packed. Great!",
    "Das Paket kam zwei Tage früher als angekündigt. Gerne wieder!",
])
def test_negated_complaints_and_early_delivery_are_positive(offline: LocalScorer,
                                                            text: str) -> None:
    assert value(offline, text) > 0


@pytest.mark.parametrize("text", [
    "I was about to cancel my subscription after the outage, but the new plan is great. Thanks!",
    "Ich wollte schon kündigen, aber der neue Tarif ist super. Danke!",
    "J'allais résilier mon abonnement, mais la nouvelle offre est parfaite. Merci !",
    "Iba a cancelar mi suscripción, pero el nuevo plan es perfecto. ¡Gracias!",
    "Eu ia cancelar minha assinatura, mas o novo plano é perfeito. Obrigado!",
])
def test_churn_intent_that_is_over_does_not_sink_a_happy_message(offline: LocalScorer,
                                                                  text: str) -> None:
    assert value(offline, text) > 0


def test_churn_intent_that_is_not_over_stays_negative(offline: LocalScorer) -> None:
    assert value(offline, "I was about to cancel, but now it crashes again. Awful.") < -0.3
