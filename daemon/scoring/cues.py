"""Anger expressed without anger words: demands with a deadline, harm done, being passed
around, broken promises -- pattern families over the folded words of a message.

The lexicons count words and fixed phrases; these cues need a few words between their
parts ("I expect a proper explanation and a fix today", "Ich habe denselben Fehler fünf
Leuten erklärt"), so they are regular expressions over the message's folded tokens
joined by single spaces (lower case, umlauts spelled out, accents removed, numbers as
"#", punctuation as its own token; see daemon.scoring.lexicon).  Every family was written
from general knowledge of how customers in each language complain, not fitted to any
data set.  A family counts at most once per message, so a long complaint is weighed by
how many different kinds of cue it holds, not by how often it repeats one.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from daemon.scoring.lexicon import Token

# A few words inside one sentence (commas allowed, sentence ends not).
_GAP = r"(?:[^ .!?\n]+ ){0,%d}"


def _gap(words: int) -> str:
    return _GAP % words


@dataclass(frozen=True, slots=True)
class CueFamily:
    name: str
    category: str  # "anger" or "displeasure": how the scorer counts it
    units: float
    pattern: re.Pattern[str]
    polite_cancels: bool = False  # "please", thanks or a question make it a request
    asking_cancels: bool = False  # "Can I cancel without notice?" asks, it complains of nothing
    exclude: re.Pattern[str] | None = None  # inside the match: not this family after all


@dataclass(frozen=True, slots=True)
class CueHit:
    family: str
    category: str
    units: float
    first: int  # token span
    last: int


# Politeness that turns "I need it right away" into an urgent request, not a demand.
_POLITE = re.compile(r"\b(?:please|pls|kindly|bitte|s il vous plait|s il te plait|svp"
                     r"|por favor|porfa|se possivel|si es posible|si possible|wenn moeglich"
                     r"|if possible|would you|could you|would be great|thanks|thank you"
                     r"|merci|danke|vielen dank|gracias|obrigad[oa]|veux bien|voudrais"
                     r"|moechte|wuerde|quisiera|gostaria)\b|\?")
# A sentence that asks about a possibility rather than reporting what happened.
_ASKING = re.compile(r"^ *(?:(?:hi|hello|hallo|bonjour|hola|ola|ok|so|also|alors|entonces|entao) , )?"
                     r"(?:can|could|may|is it|are we|do i|do we|does|will|kann|koennen|darf"
                     r"|ist es|duerfen|puis|peut|peuvent|est ce|puedo|puede|puedes|se puede"
                     r"|es posible|posso|pode|podem|e possivel)\b")
# A negator just before the cue: "no damage", "ohne Schaden", "sin daños", "sem danos".
_NEGATED = re.compile(r"\b(?:no|not|without|never|nicht|kein\w*|ohne|pas|sans|aucun\w*|ni"
                      r"|sin|ningun\w*|nunca|nao|sem|nenhum\w*|nem) (?:[^ .!?\n]+ )?$")
# Wanting to buy, try or add something right away is eagerness, not a demand.
_EAGER = re.compile(r"\b(?:upgrade|buy|purchase|order|subscribe|sign up|try|test|add|book|pay"
                    r"|renew|kaufen|bestellen|buchen|upgraden|testen|ausprobieren|abonnieren"
                    r"|verlaengern|acheter|commander|essayer|souscrire|abonner|reserver|payer"
                    r"|contratar|comprar|probar|suscribir\w*|reservar|pagar|renovar|assinar"
                    r"|testar|experimentar)\b")


def _family(name: str, category: str, units: float, alternatives: list[str],
            *, polite_cancels: bool = False, asking_cancels: bool = False,
            exclude: re.Pattern[str] | None = None) -> CueFamily:
    pattern = re.compile("|".join(f"(?:{a})" for a in alternatives))
    return CueFamily(name, category, units, pattern, polite_cancels, asking_cancels, exclude)


# --- English -------------------------------------------------------------------------
_EN_NUM = r"(?:two|three|four|five|six|seven|eight|nine|ten|a dozen|dozens of|#|several|multiple|numerous|countless)"
_EN_PEOPLE = (r"(?:people|persons|agents|reps|representatives|departments|teams|staff members"
              r"|employees|operators|colleagues|advisors|advisers|technicians|support agents)")
# What a customer is owed: "expect" is a demand with these, a forecast without them.
_EN_OWED = (r"(?:fix|solution|resolution|explanation|answer|response|reply|refund|callback"
            r"|call back|apology|compensation|credit|replacement|you|your|my|our|this|it|someone)")
# A want or need is a demand only with "at once"; "as soon as possible" is an urgent request.
_EN_NOW = (r"(?:immediately|right away|at once|right now|this instant|straight away"
           r"|without (?:any )?(?:further )?delay|this minute)")
_EN_TODAY = rf"(?:{_EN_NOW}|asap|as soon as possible|today|tonight|now|by (?:end of (?:the )?day|eod|tomorrow)|within (?:the hour|# hours))"
_EN = [
    _family("demand", "anger", 2.5, [
        rf"\b(?:i|we) (?:(?:do|fully|absolutely|now|still) )?(?:demand|insist|require)\b {_gap(10)}{_EN_TODAY}\b",
        rf"\b(?:i|we) (?:(?:do|fully|absolutely|now|still) )?expect\b (?:{_gap(4)}{_EN_OWED}\b {_gap(8)}{_EN_TODAY}|{_gap(4)}{_EN_TODAY} {_gap(4)}{_EN_OWED})\b",
        rf"\b(?:i|we) (?:(?:do|really|now) )?(?:want|need)\b {_gap(8)}{_EN_NOW}\b",
    ], polite_cancels=True, exclude=_EAGER),
    _family("harm", "displeasure", 2.5, asking_cancels=True, alternatives=[
        rf"\b(?:caus\w*|done|did|doing|dealt) {_gap(4)}(?:damage|harm)\b",
        r"\b(?:damag\w*|harm\w*|hurt\w*) (?:to )?(?:my|our) (?:business|company|reputation|shop|store|credit|clients|customers|sales)\b",
        rf"\bcost (?:me|us) {_gap(3)}(?:customers|clients|sales|money|orders|business|revenue|deals?|contracts?|jobs?|bookings|income|reputation)\b",
        rf"\b(?:i|we|i ve|we ve|have|has|had) lost {_gap(5)}(?:sales|revenue|customers|clients|orders|business|income|money|bookings|deals?|contracts?|data|work|wages)\b",
        r"\blost (?:a|an|one|two|three|#|half a|a whole|an entire|a full) (?:full |whole |entire )?(?:day|days|week|weeks|morning|afternoon|weekend|working day|business day)\b",
        r"\b(?:rent|payment|mortgage|cheque|check|direct debit|payroll) (?:has |have |had |was |got )?(?:bounced|returned unpaid)\b",
        r"\b(?:overdraft|bounce|bounced payment) (?:fees?|charges?)\b",
        r"\bout of pocket\b",
    ]),
    _family("passed_around", "displeasure", 2.5, [
        rf"\b{_EN_NUM} (?:different|separate) {_EN_PEOPLE}\b",
        rf"\b(?:spoke|spoken|talked|talking|explained|explaining|told|repeated|described|passed|transferred|bounced|dealt|chatted|through|contacted|called) {_gap(6)}{_EN_NUM} {_EN_PEOPLE}\b",
        rf"\b(?:explain\w*|told|repeat\w*|describ\w*|transferr\w*|passed|call\w*|rang|phoned|chased|contacted|emailed|written|wrote) {_gap(6)}{_EN_NUM} (?:different |separate )?(?:times|calls|occasions|chats)\b",
        rf"\b(?:passed|transferred|bounced|shuffled|shunted|pushed|handed|sent) {_gap(3)}(?:around|round|back and forth|from pillar to post|between|from one \w+ to another)\b",
        r"\bgiven the runaround\b|\brun ?around\b",
    ]),
    _family("broken_promise", "displeasure", 1.5, [
        rf"\b(?:promised|assured|guaranteed|told) {_gap(10)}(?:never|not once|nothing|nobody|no one|no word)\b",
        rf"\b(?:promised|assured|guaranteed) {_gap(10)}(?:but|yet|still) {_gap(4)}(?:not|no|nothing|never)\b",
        r"\bbroken promises?\b|\bbroke (?:your|their|the|its) promise\b|\bempty promises?\b",
    ]),
    _family("without_warning", "displeasure", 1.5, asking_cancels=True, alternatives=[
        r"\bwithout (?:any )?(?:prior )?(?:warning|notice|notification|telling (?:me|us)|asking (?:me|us))\b",
    ]),
]

# --- German --------------------------------------------------------------------------
_DE_NUM = r"(?:zwei|drei|vier|fuenf|sechs|sieben|acht|neun|zehn|zwoelf|#|mehrere[n]?|etliche[n]?|zig)"
_DE_PEOPLE = (r"(?:leute[n]?|personen|mitarbeiter\w*|abteilungen|agenten|kollegen|kolleginnen"
              r"|ansprechpartner\w*|stellen|berater\w*|techniker\w*|menschen)")
_DE_OWED = (r"(?:\w*loesung|antwort|erklaerung|rueckruf|erstattung|rueckerstattung|rueckmeldung"
            r"|entschuldigung|gutschrift|entschaedigung|behebung|korrektur|reparatur|dass|von ihnen"
            r"|von euch|ihre[nm]?|eure[nm]?|mein\w*|unser\w*)")
_DE_NOW = r"(?:sofort|umgehend|unverzueglich|auf der stelle|ab sofort|ohne weitere verzoegerung)"
_DE_TODAY = rf"(?:{_DE_NOW}|schnellstmoeglich|heute|jetzt|bis morgen|noch heute|heute noch|innerhalb von # stunden)"
_DE = [
    _family("demand", "anger", 2.5, [
        rf"\b(?:ich|wir) (?:verlange|verlangen|fordere|fordern|bestehe|bestehen)\b {_gap(10)}{_DE_TODAY}\b",
        rf"\b(?:verlange|verlangen|fordere|fordern) (?:ich|wir)\b {_gap(10)}{_DE_TODAY}\b",
        rf"\b(?:ich|wir) (?:erwarte|erwarten)\b (?:{_gap(4)}{_DE_OWED} {_gap(8)}{_DE_TODAY}|{_gap(4)}{_DE_TODAY} {_gap(4)}{_DE_OWED})\b",
        rf"\b(?:erwarte|erwarten) (?:ich|wir)\b (?:{_gap(4)}{_DE_OWED} {_gap(8)}{_DE_TODAY}|{_gap(4)}{_DE_TODAY} {_gap(4)}{_DE_OWED})\b",
        rf"\b(?:ich|wir) (?:will|wollen|brauche|brauchen)\b {_gap(8)}{_DE_NOW}\b",
        rf"\b{_DE_NOW} {_gap(6)}(?:erwarte|verlange|fordere) ich\b",
    ], polite_cancels=True, exclude=_EAGER),
    _family("harm", "displeasure", 2.5, asking_cancels=True, alternatives=[
        r"\b(?:geschadet|geschaedigt|schadenersatz|schadensersatz|schadensersatzforderung\w*)\b",
        rf"\b(?:schaden|schaeden) {_gap(3)}(?:entstanden|verursacht|zugefuegt|erlitten|angerichtet)\b",
        rf"\b(?:entstanden|verursacht|zugefuegt|erlitten|angerichtet|enormen|erheblichen|grossen|finanziellen|wirtschaftlichen) {_gap(2)}(?:schaden|schaeden)\b",
        r"\b(?:verdienstausfall|umsatzausfall|umsatzeinbusse\w*|umsatzverlust\w*|einnahmeausfall\w*|mahngebuehr\w*|ruecklastschrift\w*|ueberziehungszinsen|dispozinsen)\b",
        rf"\b(?:kunden|umsatz|geld|auftraege|auftrag|einnahmen|daten|bestellungen|buchungen|einen (?:ganzen )?(?:tag|arbeitstag)|# tage|einen ganzen tag) {_gap(2)}(?:verloren|gekostet|eingebuesst)\b",
        rf"\b(?:hat|haben|hatte) (?:uns|mich) {_gap(4)}(?:kunden|umsatz|geld|auftraege|einnahmen|einen (?:ganzen )?tag) gekostet\b",
        r"\b(?:miete|lastschrift|zahlung|ueberweisung) (?:ist |wurde |war )?(?:geplatzt|zurueckgegangen|zurueckgebucht)\b",
    ]),
    _family("passed_around", "displeasure", 2.5, [
        rf"\b{_DE_NUM} (?:verschiedene[n]?|unterschiedliche[n]?) {_DE_PEOPLE}\b",
        rf"\b{_DE_NUM} {_DE_PEOPLE} {_gap(4)}(?:erklaert|geschildert|beschrieben|gesprochen|telefoniert|geschrieben|weitergeleitet|verbunden|weitergereicht|geschickt)\b",
        rf"\b(?:zwei|drei|vier|fuenf|sechs|sieben|acht|neun|zehn|zig|x)mal {_gap(6)}(?:erklaert|geschildert|beschrieben|angerufen|geschrieben|gemeldet|verbunden|weitergeleitet)\b",
        r"\bhin und her (?:geschickt|verwiesen|verbunden|geschoben|weitergeleitet)\b",
        r"\bvon (?:abteilung zu abteilung|einem zum (?:anderen|naechsten)|einer stelle zur (?:anderen|naechsten)|pontius zu pilatus)\b",
        r"\bim kreis (?:geschickt|geschoben)\b",
    ]),
    _family("broken_promise", "displeasure", 1.5, [
        rf"\b(?:versprochen|zugesagt|zugesichert|garantiert) {_gap(10)}(?:nie|niemals|nichts|nicht)\b",
        rf"\b(?:nie|niemals|nichts) {_gap(6)}(?:obwohl|trotz) {_gap(4)}(?:versprochen|zugesagt|zusage|versprechen)\w*",
        r"\b(?:leere|gebrochene) versprechen\w*\b|\bversprechen (?:nicht )?gehalten\b",
    ]),
    _family("without_warning", "displeasure", 1.5, asking_cancels=True, alternatives=[
        r"\bohne (?:jede |jegliche |eine )?(?:vorwarnung|vorankuendigung|ankuendigung|vorherige (?:info\w*|mitteilung|warnung)|rueckfrage|zustimmung|mich zu (?:fragen|informieren))\b",
    ]),
]

# --- French --------------------------------------------------------------------------
_FR_NUM = r"(?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|#|plusieurs|differents|differentes)"
_FR_PEOPLE = (r"(?:personnes|conseillers|conseilleres|agents|services|interlocuteurs|departements"
              r"|operateurs|operatrices|employes|techniciens|collaborateurs)")
_FR_OWED = (r"(?:solution|reponse|explication|remboursement|rappel|geste|excuses|retour"
            r"|correction|reparation|dedommagement|que vous|de vous|de votre part|votre|vos|mon|ma|mes)")
_FR_NOW = r"(?:immediatement|tout de suite|sur le champ|sans delai|sans plus tarder|dans l heure)"
_FR_TODAY = rf"(?:{_FR_NOW}|au plus vite|de toute urgence|aujourd hui|des aujourd hui|maintenant|d ici demain|avant ce soir)"
_FR = [
    _family("demand", "anger", 2.5, [
        rf"\b(?:j|je|nous) (?:exige|exigeons|insiste|insistons|reclame|reclamons)\b {_gap(10)}{_FR_TODAY}\b",
        rf"\b(?:j|je|nous) (?:attends|attendons)\b (?:{_gap(4)}{_FR_OWED} {_gap(8)}{_FR_TODAY}|{_gap(4)}{_FR_TODAY} {_gap(4)}{_FR_OWED})\b",
        rf"\b(?:je|nous) (?:veux|voulons|demande|demandons)\b {_gap(8)}{_FR_NOW}\b",
        rf"\bj ai besoin\b {_gap(8)}{_FR_NOW}\b",
    ], polite_cancels=True, exclude=_EAGER),
    _family("harm", "displeasure", 2.5, asking_cancels=True, alternatives=[
        r"\b(?:prejudice\w*|dommages et interets|degats|manque a gagner|agios|frais de rejet)\b",
        rf"\b(?:perdu|perte de|pertes de|perdre) {_gap(3)}(?:clients?|ventes|chiffre d affaires|commandes|argent|revenus|donnees|journee|jours?|semaine|contrats?|reservations)\b",
        rf"\b(?:coute|coutera) {_gap(3)}(?:clients?|ventes|commandes|argent|contrats?|une journee)\b",
        rf"\b(?:loyer|prelevement|cheque|virement|paiement) {_gap(2)}(?:rejete|rejetee|impaye|refuse)\b",
    ]),
    _family("passed_around", "displeasure", 2.5, [
        rf"\b{_FR_NUM} {_FR_PEOPLE} (?:differents|differentes|distincts)\b",
        rf"\b(?:parle|explique|repete|raconte|eu|passe|transfere|transferee|renvoye|renvoyee|contacte|appele|affaire) {_gap(6)}{_FR_NUM} (?:\w+ )?{_FR_PEOPLE}\b",
        rf"\b(?:explique|repete|raconte|decrit|appele|ecrit|relance|signale) {_gap(6)}(?:deux|trois|quatre|cinq|six|sept|huit|neuf|dix|#|plusieurs) fois\b",
        rf"\b(?:balade|baladee|balades|baladent|ballotte|ballottee|renvoye|renvoyee|transfere|transferee|trimbale|trimballe) {_gap(3)}(?:entre|de service en service|d un service a l autre|de l un a l autre)\b",
        r"\b(?:de service en service|d un service a l autre|renvoient la balle|se renvoient)\b",
    ]),
    _family("broken_promise", "displeasure", 1.5, [
        rf"\b(?:promis|promise|assure|garanti|garantie) {_gap(10)}(?:jamais|rien|toujours pas|pas)\b",
        r"\bpromesses? (?:non tenues?|en l air|vides?)\b",
    ]),
    _family("without_warning", "displeasure", 1.5, asking_cancels=True, alternatives=[
        r"\bsans (?:me |nous )?(?:prevenir|avertir|previent|avertissement|preavis|aucun preavis|aucun avertissement|aucune information|demander|informer|mon accord|notre accord)\b",
    ]),
]

# --- Spanish -------------------------------------------------------------------------
_ES_NUM = r"(?:dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|doce|#|varios|varias|distintos|distintas|diferentes)"
_ES_PEOPLE = (r"(?:personas|agentes|operadores|operadoras|departamentos|asesores|asesoras"
              r"|empleados|tecnicos|areas|gestores|teleoperadores)")
_ES_NOW = r"(?:inmediatamente|de inmediato|ya mismo|ahora mismo|sin demora|sin mas demora|en el acto)"
_ES_TODAY = rf"(?:{_ES_NOW}|hoy mismo|cuanto antes|lo antes posible|hoy|ahora|ya|antes de manana|para manana)"
_ES = [
    _family("demand", "anger", 2.5, [
        rf"\b(?:exijo|exigimos|insisto|reclamo|reclamamos|exijo que)\b {_gap(10)}{_ES_TODAY}\b",
        rf"\b(?:quiero|queremos|necesito|necesitamos|espero|esperamos)\b {_gap(8)}{_ES_NOW}\b",
    ], polite_cancels=True, exclude=_EAGER),
    _family("harm", "displeasure", 2.5, asking_cancels=True, alternatives=[
        r"\b(?:perjuicio\w*|perjudicad\w*|perdidas economicas|lucro cesante|comisiones? por descubierto|danos y perjuicios)\b",
        rf"\b(?:causad\w*|causaron|causo|hecho|ocasionad\w*|ocasionaron) {_gap(3)}danos?\b|\bdanos? {_gap(3)}(?:a|en) (?:mi|nuestr[oa]) (?:negocio|empresa|tienda|reputacion)\b",
        rf"\b(?:perdido|perdimos|perdi|perder|perdida de|perdidas de) {_gap(3)}(?:clientes?|ventas|dinero|pedidos|ingresos|datos|dia|dias|jornada|semana|contratos?|reservas)\b",
        rf"\b(?:costado|costo|cuesta) {_gap(3)}(?:clientes?|ventas|dinero|pedidos|contratos?)\b",
        rf"\b(?:recibo|alquiler|pago|domiciliacion|cheque|transferencia) {_gap(2)}(?:devuelt\w*|rechazad\w*|impagad\w*)\b",
    ]),
    _family("passed_around", "displeasure", 2.5, [
        rf"\b{_ES_NUM} {_ES_PEOPLE} (?:distintos|distintas|diferentes)\b|\b(?:distintos|distintas|diferentes) {_ES_PEOPLE}\b",
        rf"\b(?:hablado|hable|explicado|explique|repetido|contado|pasado|pasaron|transferido|transfirieron|atendido|atendieron) {_gap(6)}{_ES_NUM} {_ES_PEOPLE}\b",
        rf"\b(?:explicado|explique|repetido|contado|llamado|escrito|reclamado) {_gap(6)}(?:dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|#|varias|mil) veces\b",
        r"\bde un (?:departamento|lado|sitio|agente|area) (?:a|al|para) otro\b",
        r"\b(?:me|nos) (?:pasan|pasaron|han pasado|transfieren|transfirieron|mandan|mandaron|pelotean|marean|torean) (?:de|entre|con)\b|\bpeloteo\b",
    ]),
    _family("broken_promise", "displeasure", 1.5, [
        rf"\b(?:prometieron|prometio|prometido|aseguraron|garantizaron|dijeron) {_gap(10)}(?:nunca|nada|jamas|sigo sin|todavia no|aun no)\b",
        r"\bpromesas? (?:incumplidas?|vacias?|rotas?)\b",
    ]),
    _family("without_warning", "displeasure", 1.5, asking_cancels=True, alternatives=[
        r"\bsin (?:ningun |previo |ningun tipo de )?(?:aviso|avisar|aviso previo|previo aviso|avisarme|avisarnos|consultar|consultarme|mi consentimiento|notificacion)\b",
    ]),
]

# --- Portuguese ----------------------------------------------------------------------
_PT_NUM = r"(?:dois|duas|tres|quatro|cinco|seis|sete|oito|nove|dez|doze|#|varios|varias|diferentes)"
_PT_PEOPLE = (r"(?:pessoas|atendentes|agentes|departamentos|setores|operadores|operadoras"
              r"|funcionarios|tecnicos|areas|consultores|consultoras)")
_PT_NOW = r"(?:imediatamente|de imediato|agora mesmo|sem demora|sem mais demora|ja ja)"
_PT_TODAY = rf"(?:{_PT_NOW}|hoje mesmo|o quanto antes|o mais rapido possivel|hoje|agora|ate amanha|ainda hoje)"
_PT = [
    _family("demand", "anger", 2.5, [
        rf"\b(?:exijo|exigimos|insisto|cobro|cobramos)\b {_gap(10)}{_PT_TODAY}\b",
        rf"\b(?:quero|queremos|preciso|precisamos|espero|esperamos)\b {_gap(8)}{_PT_NOW}\b",
    ], polite_cancels=True, exclude=_EAGER),
    _family("harm", "displeasure", 2.5, asking_cancels=True, alternatives=[
        r"\b(?:prejuizo\w*|lucros cessantes|perdas e danos|danos morais|danos materiais)\b",
        rf"\b(?:causou|causaram|causad\w*|trouxe|trouxeram) {_gap(3)}danos?\b|\bdanos? {_gap(3)}(?:a|ao|para|na|no) (?:minha|meu|nossa|nosso) (?:negocio|empresa|loja|reputacao)\b",
        rf"\b(?:perdi|perdemos|perdido|perder|perda de|perdas de) {_gap(3)}(?:clientes?|vendas|dinheiro|pedidos|receita|faturamento|dados|dia|dias|semana|contratos?|reservas)\b",
        rf"\b(?:custou|custaram|custando) {_gap(3)}(?:clientes?|vendas|dinheiro|pedidos|contratos?)\b",
        rf"\b(?:aluguel|aluguer|boleto|pagamento|cheque|debito|transferencia) {_gap(2)}(?:devolvid\w*|recusad\w*|voltou|voltaram)\b",
    ]),
    _family("passed_around", "displeasure", 2.5, [
        rf"\b{_PT_NUM} {_PT_PEOPLE} (?:diferentes|distintos|distintas)\b|\b(?:diferentes|distintos|distintas) {_PT_PEOPLE}\b",
        rf"\b(?:falei|falado|expliquei|explicado|repeti|contei|passei|passaram|transferiram|transferido|atendido|atenderam) {_gap(6)}{_PT_NUM} {_PT_PEOPLE}\b",
        rf"\b(?:expliquei|explicado|repeti|repetido|contei|liguei|ligado|escrevi|reclamei) {_gap(6)}(?:duas|tres|quatro|cinco|seis|sete|oito|nove|dez|#|varias|mil) vezes\b",
        r"\bde um (?:setor|departamento|lado|atendente|area) (?:para|pro|a) (?:o )?outro\b",
        r"\bempurra empurra\b|\b(?:me|nos) (?:jogam|jogaram|passam|passaram|transferem|transferiram) (?:de|entre|para la e para ca)\b",
    ]),
    _family("broken_promise", "displeasure", 1.5, [
        rf"\b(?:prometeram|prometeu|prometido|garantiram|garantiu|disseram|asseguraram) {_gap(10)}(?:nunca|nada|jamais|ainda nao|continua|ate agora nao)\b",
        r"\bpromessas? (?:nao cumpridas?|vazias?|quebradas?)\b",
    ]),
    _family("without_warning", "displeasure", 1.5, asking_cancels=True, alternatives=[
        r"\bsem (?:nenhum |qualquer |previo |nenhuma )?(?:aviso|avisar|aviso previo|previo aviso|me avisar|nos avisar|consultar|meu consentimento|notificacao|comunicacao)\b",
    ]),
]

FAMILIES: dict[str, list[CueFamily]] = {"en": _EN, "de": _DE, "fr": _FR, "es": _ES, "pt": _PT}


def find_cues(tokens: list[Token], language: str) -> list[CueHit]:
    """The cue families present in the tokens, each at most once, with its token span."""
    families = FAMILIES.get(language)
    if not families:
        return []
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for token in tokens:
        starts.append(offset)
        parts.append(token.word)
        offset += len(token.word) + 1
    joined = " ".join(parts)
    hits: list[CueHit] = []
    for family in families:
        for match in family.pattern.finditer(joined):
            first = bisect.bisect_right(starts, match.start()) - 1
            last = bisect.bisect_left(starts, match.end())
            sentence = _sentence(joined, match)
            if family.polite_cancels and _POLITE.search(sentence):
                continue
            if family.asking_cancels and "?" in sentence and _ASKING.search(sentence):
                continue
            if family.exclude is not None and family.exclude.search(match.group(0)):
                continue
            if _NEGATED.search(joined, max(0, match.start() - 40), match.start()):
                continue
            hits.append(CueHit(family.name, family.category, family.units, first,
                               max(last, first + 1)))
            break
    return hits


def _sentence(joined: str, match: re.Match[str]) -> str:
    """The sentence around the match, with the mark that ends it."""
    begin = max(joined.rfind(mark, 0, match.start()) for mark in ".!?\n")
    ends = [i for i in (joined.find(mark, match.end()) for mark in ".!?\n") if i >= 0]
    return joined[begin + 1:min(ends) + 1 if ends else len(joined)]


__all__ = ["FAMILIES", "CueFamily", "CueHit", "find_cues"]
