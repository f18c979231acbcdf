"""Anger without anger words (daemon.scoring.cues) and repeat words in praise: each cue
family fires in every language on phrasings of our own, and the look-alikes that are
requests, purchases or thanks stay calm."""

from __future__ import annotations

import pytest

from daemon.scoring.cues import FAMILIES, find_cues
from daemon.scoring.lexicon import tokenize
from daemon.scoring.local import LocalScorer

CLEARLY_ANGRY = -0.7
PLAINLY_NEGATIVE = -0.5


@pytest.fixture(scope="module")
def scorer() -> LocalScorer:
    return LocalScorer()


def families(text: str, language: str) -> set[str]:
    return {hit.family for hit in find_cues(tokenize(text), language)}


def test_every_language_has_every_family() -> None:
    names = {language: {family.name for family in found}
             for language, found in FAMILIES.items()}
    assert set(names) == {"en", "de", "fr", "es", "pt"}
    for language, found in names.items():
        assert found == {"demand", "harm", "passed_around", "broken_promise",
                         "without_warning", "ultimatum", "escalation", "counted_contact",
                         "tally", "no_response", "liability", "blame", "refusal", "decided"}, language


@pytest.mark.parametrize(("language", "text", "family"), [
    ("en", "We demand that the service is back up by end of day.", "demand"),
    ("en", "I need my data restored right now.", "demand"),
    ("de", "Wir verlangen, dass der Zugang umgehend wiederhergestellt wird.", "demand"),
    ("fr", "Nous exigeons un remboursement dès aujourd'hui.", "demand"),
    ("es", "Exigimos que nos devuelvan el dinero hoy mismo.", "demand"),
    ("pt", "Exigimos o estorno ainda hoje.", "demand"),
    ("en", "Your outage has done serious harm to our shop.", "harm"),
    ("en", "The double charge meant my mortgage payment bounced.", "harm"),
    ("de", "Uns sind dadurch drei Aufträge verloren gegangen.", "harm"),
    ("fr", "Nous avons perdu plusieurs commandes à cause de vous.", "harm"),
    ("es", "Hemos perdido varios pedidos por esta caída.", "harm"),
    ("pt", "Perdemos muitas vendas com essa queda.", "harm"),
    ("en", "I have talked to six agents about this.", "passed_around"),
    ("de", "Ich wurde von Abteilung zu Abteilung geschickt.", "passed_around"),
    ("fr", "J'ai expliqué le problème à trois agents.", "passed_around"),
    ("es", "Me han transferido a cuatro departamentos.", "passed_around"),
    ("pt", "Já expliquei isso para cinco atendentes.", "passed_around"),
    ("en", "You guaranteed a replacement and nothing arrived.", "broken_promise"),
    ("de", "Uns wurde eine Gutschrift zugesagt, gekommen ist nichts.", "broken_promise"),
    ("fr", "Vous aviez promis un rappel et toujours pas de nouvelles.", "broken_promise"),
    ("es", "Me aseguraron que lo arreglarían y nada.", "broken_promise"),
    ("pt", "Garantiram que iam resolver e nada.", "broken_promise"),
    ("en", "You closed our account without prior notice.", "without_warning"),
    ("de", "Der Tarif wurde ohne jede Ankündigung umgestellt.", "without_warning"),
    ("fr", "Vous avez changé mon forfait sans me prévenir.", "without_warning"),
    ("es", "Subieron la cuota sin avisar.", "without_warning"),
    ("pt", "Mudaram o plano sem nenhum aviso.", "without_warning"),
])
def test_a_family_fires_on_its_phrasings(scorer: LocalScorer, language: str, text: str,
                                         family: str) -> None:
    assert family in families(text, language)
    score = scorer.score([text])[0]
    assert score.score < -0.2, (text, score.score)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "I want this fixed immediately, and I expect an explanation today."),
    ("de", "Ich erwarte sofort eine Erklärung, drei Mitarbeiter haben mich schon "
           "hin und her geschickt."),
    ("fr", "J'exige une solution aujourd'hui : on m'a renvoyé de service en service."),
    ("es", "Exijo una respuesta hoy: he hablado con cinco agentes distintos."),
    ("pt", "Exijo uma solução hoje, já falei com três atendentes diferentes."),
])
def test_demands_with_a_deadline_read_clearly_angry(scorer: LocalScorer, language: str,
                                                    text: str) -> None:
    score = scorer.score([text])[0]
    assert score.language == language
    assert score.score <= CLEARLY_ANGRY, (text, score.score)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Could you please reset my password right away? Thanks!"),
    ("en", "I want to upgrade to the team plan right away, where do I pay?"),
    ("en", "We have four departments using the tool; how do I split the invoice?"),
    ("en", "Can I end the contract without notice if I move abroad?"),
    ("de", "Wir sind ein Team mit vier Mitarbeitern und brauchen zwei Lizenzen."),
    ("fr", "Je voudrais ajouter deux utilisateurs tout de suite, merci."),
    ("es", "Quiero contratar el plan anual ahora mismo, ¿cómo lo hago?"),
    ("pt", "Quero assinar o plano anual agora mesmo, como faço?"),
    ("en", "We expect around six new users today."),
    ("de", "Wir erwarten heute zwei neue Kolleginnen."),
    ("fr", "Nous attendons trois nouveaux collaborateurs aujourd'hui."),
    ("es", "Necesito acceso lo antes posible para la demo."),
    ("de", "Das Paket kam mit einem Schaden an der Ecke an."),
    ("es", "El producto llegó con un daño en la caja, ¿pueden cambiarlo?"),
    ("pt", "O produto chegou com danos na caixa, podem trocar?"),
    ("en", "The parcel arrived without any damage."),
])
def test_requests_and_purchases_are_no_demands(scorer: LocalScorer, language: str,
                                               text: str) -> None:
    assert not families(text, language)
    score = scorer.score([text])[0]
    assert score.score > -0.3, (text, score.score)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Brilliant, the reports load quickly again and the numbers look right. Cheers!"),
    ("en", "Thanks once again for the speedy help!"),
    ("de", "Super, der Export läuft wieder einwandfrei, danke!"),
    ("fr", "Parfait, la synchro fonctionne à nouveau, merci beaucoup !"),
    ("es", "Todo funciona otra vez, ¡muchas gracias!"),
    ("pt", "Funcionou de novo, muito obrigado!"),
])
def test_again_in_praise_is_no_repeat_contact(scorer: LocalScorer, language: str,
                                              text: str) -> None:
    score = scorer.score([text])[0]
    assert score.score > 0, (text, score.score)
    assert "repeat_contact" not in score.signals


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Thanks for the fix. It is broken yet again."),
    ("de", "Danke für die Antwort. Die App ist schon wieder abgestürzt."),
    ("es", "Gracias. Es la tercera vez que escribo por esto."),
])
def test_again_in_a_complaint_still_counts(scorer: LocalScorer, language: str,
                                           text: str) -> None:
    assert scorer.score([text])[0].score < -0.2


@pytest.mark.parametrize(("language", "text"), [
    ("de", "Ehrlich gesagt ist das beleidigend."),
    ("fr", "Franchement, c'est insultant."),
    ("es", "Sinceramente, esto es un insulto."),
    ("pt", "Sinceramente, isso é um insulto."),
    ("pt", "Esse atendimento é uma piada."),
])
def test_contempt_without_swear_words_is_anger(scorer: LocalScorer, language: str,
                                               text: str) -> None:
    assert scorer.score([text])[0].score <= CLEARLY_ANGRY


@pytest.mark.parametrize(("language", "text", "family"), [
    ("en", "Restore the backups by Monday or we cancel the contract.", "ultimatum"),
    ("de", "Entweder das klappt bis Montag, oder wir kündigen den Vertrag.", "ultimatum"),
    ("fr", "Réparez ça cette semaine, sinon je résilie mon abonnement.", "ultimatum"),
    ("es", "Si esto no se arregla el lunes, nos pasamos a la competencia.", "ultimatum"),
    ("pt", "Resolvam até segunda ou eu cancelo o contrato.", "ultimatum"),
    ("en", "I will be reporting this to the ombudsman.", "escalation"),
    ("de", "Ich wende mich jetzt an die Schlichtungsstelle.", "escalation"),
    ("fr", "Je vais saisir le médiateur des télécoms.", "escalation"),
    ("es", "Voy a poner una queja en la oficina del consumidor.", "escalation"),
    ("pt", "Vou registrar reclamação no Procon.", "escalation"),
    ("en", "This is my fourth email about the login loop.", "counted_contact"),
    ("de", "Ich schreibe Ihnen zum vierten Mal wegen der Rechnung.", "counted_contact"),
    ("fr", "C'est mon quatrième appel pour la même panne.", "counted_contact"),
    ("es", "Es la cuarta vez que escribo por la factura.", "counted_contact"),
    ("pt", "É a quarta vez que ligo por causa da fatura.", "counted_contact"),
    ("en", "Nine days, five calls, no engineer.", "tally"),
    ("en", "You promised a callback on Monday. It is Friday.", "broken_promise"),
    ("fr", "On m'a promis un avoir. Il y a deux mois de ça.", "broken_promise"),
    ("en", "Still no answer on my warranty claim.", "no_response"),
    ("pt", "Continuo sem resposta sobre a garantia.", "no_response"),
    ("en", "You will refund the shipping costs in full.", "liability"),
    ("de", "Wegen Ihres Versehens wurde der Vertrag doppelt berechnet.", "blame"),
])
def test_anger_without_anger_words_fires_in_every_language(language: str, text: str,
                                                           family: str) -> None:
    assert family in families(text, language)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "If I switch to another provider, can I keep my number?"),
    ("de", "Kann ich zu einem anderen Anbieter wechseln und die Nummer behalten?"),
    ("fr", "Si je change d'opérateur, est-ce que je garde mon numéro ?"),
    ("es", "Si me cambio de compañía, ¿puedo conservar el número?"),
    ("pt", "Se eu mudar de operadora, posso manter o número?"),
    ("en", "Can I file a complaint with the ombudsman about a third party?"),
    ("en", "Could you refund the deposit in full, please?"),
])
def test_questions_about_leaving_or_complaining_are_no_cues(language: str,
                                                            text: str) -> None:
    assert not families(text, language)


@pytest.mark.parametrize(("language", "text"), [
    ("en", "The app says 'upload failed: file rejected'. What file types are allowed?"),
    ("de", "Die App meldet „Upload fehlgeschlagen: Datei abgelehnt“. Welche Formate gehen?"),
    ("fr", "L'appli affiche « envoi échoué : fichier refusé ». Quels formats sont acceptés ?"),
    ("es", "La app dice 'subida fallida: archivo rechazado'. ¿Qué formatos aceptan?"),
    ("pt", "O app mostra 'envio falhou: arquivo recusado'. Quais formatos são aceitos?"),
])
def test_a_quoted_error_in_a_question_is_neutral(scorer: LocalScorer, language: str,
                                                 text: str) -> None:
    assert scorer.score([text])[0].score > -0.3, text


@pytest.mark.parametrize(("language", "text"), [
    ("en", "After a week of failed logins, I'm finally in. Thank you so much!"),
    ("de", "Nach einer Woche mit Abstürzen läuft die App jetzt stabil. Vielen Dank!"),
    ("fr", "Après une semaine de pannes, tout fonctionne. Merci beaucoup !"),
    ("es", "Después de una semana de errores, ya funciona todo. ¡Muchas gracias!"),
    ("pt", "Depois de uma semana de erros, agora funciona tudo. Muito obrigado!"),
    ("en", "Thanks for the quick refund, much appreciated."),
    ("pt", "Obrigado pelo estorno tão rápido!"),
])
def test_thanks_after_recounted_trouble_is_positive(scorer: LocalScorer, language: str,
                                                    text: str) -> None:
    assert scorer.score([text])[0].score > 0, text


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Love the app, but it crashes after the update."),
    ("en", "Thanks for the late flight and the lost bag."),
    ("de", "Nach dem Update stürzt die App ständig ab."),
    ("fr", "Après la mise à jour, l'appli plante sans arrêt."),
])
def test_trouble_now_stays_a_complaint(scorer: LocalScorer, language: str,
                                       text: str) -> None:
    assert scorer.score([text])[0].score < 0, text
