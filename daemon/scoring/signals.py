"""Hard escalation signals found by explicit patterns, each with the phrase that fired it.

These are not polarity: a polite "I will have to speak to my lawyer" is a legal threat
whatever its tone.  The patterns are general support language (chosen a priori, not fitted
to any data set) and deliberately explicit so that a support-ops engineer can read why a
signal fired.  Every scorer reports them, and the Claude scorer takes the union with these,
so text that talks a model into a mild verdict cannot remove a signal found here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|multiple|many|countless|numerous|a few)"
_ORDINAL = r"(?:second|third|fourth|fifth|sixth|seventh|tenth|\d+(?:st|nd|rd|th))"

_PATTERNS: dict[str, tuple[str, ...]] = {
    "churn_risk": (
        # A decision already taken, stated coldly (issue 9).
        r"\b(?:switched|moved|signed|gone over) (?:over )?(?:to|with) (?:a |an )?(?:another|a different|other|new) (?:provider|company|bank|carrier|supplier|vendor|service|operator|network)",
        r"\b(?:terminate|close|end) (?:my|our|the) (?:contract|account|subscription|membership)\b",
        r"\bport (?:my|our) (?:phone )?numbers? out\b",
        r"\bcancel+(?:ing|ed)? (?:my |the |our )?(?:account|subscription|membership|contract|plan|service|renewal)",
        r"\bcancel+(?:ing)? (?:everything|it all)\b",
        r"\bclose (?:my|our) account\b",
        r"\b(?:switch(?:ing)?|mov(?:e|ing)|go(?:ing)?) (?:over )?to (?:a |an |your )?(?:competitor|another (?:provider|company|service|vendor|bank|carrier)|someone else)",
        r"\btak(?:e|ing) (?:my|our) (?:business|money|custom) elsewhere\b",
        r"\b(?:withdraw(?:ing)?|pull(?:ing)? out|mov(?:e|ing)) (?:all )?(?:my|our) (?:money|funds|savings|deposits)\b",
        r"\b(?:process|confirm|arrange) (?:the |my |our )?(?:cancellation|termination|number port)\b",
        r"\b(?:won'?t|will not|never) (?:be )?(?:use|using|buy|buying|order|ordering|renew|renewing|recommend|coming back|returning|do business)\b[^.!?\n]{0,30}\b(?:again|anymore|any more|with you)\b",
        r"\bnever (?:again|going to (?:use|buy|order))\b",
        r"\b(?:i'?m|i am|we'?re|we are) (?:done|finished) with (?:you|your|this company)\b",
        r"\bunsubscribe me\b",
        r"\blooking (?:for|at) (?:other|another|alternative) (?:options|providers|companies|services|vendors)\b",
        r"\b(?:full )?refund (?:or|and) (?:i'?ll|i will|we'?ll|we will) (?:leave|cancel|go)\b",
    ),
    "legal_threat": (
        r"\breport(?:ing)? (?:you|this|it|them|your company)(?: all)? to (?:the )?(?:data protection|information commissioner|ico\b|police|regulator|ombudsman|authorities|consumer)",
        r"\b(?:my |a |our )?(?:lawyers?|attorneys?|solicitors?|legal team|legal counsel)\b",
        r"\blegal action\b",
        r"\b(?:sue|suing|lawsuit|class action|small claims)\b",
        r"\btake (?:you|this|it) to court\b",
        r"\b(?:report|reporting) (?:you |this )?to (?:the )?(?:bbb|better business bureau|ftc|cfpb|ombudsman|regulator|authorities|trading standards|consumer protection)",
        r"\b(?:file|filing|open|opening) a (?:formal )?(?:complaint|dispute) with\b",
        r"\bchargeback\b",
        r"\bdispute (?:the|this) (?:charge|transaction|payment) with my (?:bank|card)",
    ),
    "manager_request": (
        r"\b(?:speak|talk|chat) (?:to|with) (?:a |your |the )?(?:manager|supervisor|superior|boss|someone in charge|someone senior|team lead|human|real person)",
        r"\b(?:your|a|the) (?:manager|supervisor)\b",
        r"\bescalate (?:this|my|the|it)\b",
        r"\bescalat(?:ion|ed) to\b",
        r"\b(?:someone|somebody) (?:higher up|more senior|with authority)\b",
    ),
    "repeat_contact": (
        rf"\b(?:for )?the {_ORDINAL} time\b",
        rf"\b{_ORDINAL} (?:time|email|call|ticket|request|attempt|message)\b",
        rf"\b{_NUM} (?:times|emails|calls|tickets|requests|attempts|messages)\b",
        r"\bhow many (?:more )?times\b",
        r"\b(?:once|yet) again\b",
        r"\bstill (?:waiting|not|no|nothing|haven'?t|hasn'?t|have not|has not|broken|isn'?t|doesn'?t|can'?t|unresolved)\b",
        r"\balready (?:told|explained|sent|called|contacted|emailed|asked|reported|provided|submitted|tried)\b",
        r"\b(?:keep|kept) (?:asking|getting|having|calling|emailing|contacting|telling|being told)\b",
        r"\b(?:contacting|writing to|calling|emailing|asking) (?:you )?again\b",
        r"\b(?:happened|broke|broken|failed|failing|down|wrong|stopped working) again\b",
        r"\bnobody (?:has )?(?:replied|responded|answered|got back|gets back|called back)\b",
        r"\bno (?:one|body) (?:has )?(?:replied|responded|answered|got back|called back)\b",
        r"\bstill no (?:reply|response|answer|update|refund)\b",
    ),
    "abusive": (
        r"\bf+u+c+k+\w*",
        r"\bsh[i1]t+(?:ty)?\b",
        r"\bbullshit\b",
        r"\bassholes?\b",
        r"\bbastards?\b",
        r"\b(?:idiots?|morons?|imbeciles?|dumbass\w*)\b",
        r"\bscrew (?:you|u)\b",
        r"\bwtf\b",
        r"\bstfu\b",
        r"\bbitch\w*",
        r"\bpiece of (?:crap|garbage|junk|trash)\b",
        r"\bgo to hell\b",
    ),
    "urgent": (
        r"\burgent(?:ly)?\b",
        r"\basap\b",
        r"\bas soon as possible\b",
        r"\bimmediately\b",
        r"\bemergency\b",
        r"\bright (?:now|away)\b",
        r"\btime[- ]sensitive\b",
        r"\b(?:production|prod|site|website|system|server|app|service) (?:is |are )?(?:down|offline)\b",
        r"\bcan'?t wait (?:any ?longer|anymore)\b",
        r"\b(?:by|before) (?:end of )?(?:today|tonight|tomorrow|eod)\b",
        r"\bcritical\b",
    ),
    # Text addressed to a model rather than to support: flagged, never obeyed.
    "prompt_injection": (
        r"\b(?:ignore|disregard|forget|override) (?:all |any |the |your |my )?(?:previous |prior |above |earlier |preceding )?(?:instructions?|prompts?|rules|guidelines|system prompt|directions)\b",
        r"\b(?:rate|score|classify|label|mark) (?:this|the|my) (?:message|ticket|text|email|review|customer)? ?(?:as )?(?:very )?(?:positive|neutral|happy|satisfied|low priority)\b",
        r"\b(?:set|change|lower) (?:the )?(?:priority|sentiment|score) (?:to )?(?:low|normal|positive|neutral|\d)",
        r"(?:^|\n)\s*(?:system|assistant)\s*:",
        r"</?\s*(?:system|instructions?|customer_message|admin)\b[^>]*>",
        r"\byou are now\b|\bnew instructions\b|\bdeveloper mode\b|\bjailbreak\b",
        r"\bignorez? (?:les|toutes les) instructions\b|\bignoriere (?:alle |die )?(?:vorherigen )?anweisungen\b"
        r"|\bignora (?:las |todas las )?instrucciones\b",
    ),
}

# Per-language patterns (German, French, Spanish, Portuguese), run with the English ones
# on a message detected as that language.  Same rule: general support language, chosen
# a priori, explicit enough to read why a signal fired.
_LOCAL_PATTERNS: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {
        "churn_risk": (r"\b(?:ge)?k(?:ü|ue|u)ndig(?:e|en|t|ung)?\b",
                       r"\b(?:mit (?:euch|ihnen|dieser firma|dem laden) (?:bin ich|sind wir)|(?:ich bin|wir sind) mit (?:euch|ihnen)) (?:endg(?:ü|ue|u)ltig )?(?:fertig|durch)\b",
                       r"\bbei (?:der konkurrenz|einem anderen anbieter) unterschrieben\b",
                       r"\b(?:schlie(?:ß|ss)en sie|l(?:ö|oe|o)schen sie|l(?:ö|oe|o)sen sie) (?:mein|unser)e?n? (?:konto|kundenkonto|depot|konten|vertrag)\b",
                       r"\bwechsle (?:zu|zur|zum) (?:konkurrenz|einem anderen anbieter)",
                       r"\b(?:ziehe|ziehen) (?:ich |wir )?(?:mein|unser)e?n? (?:geld|konten|konto|depot|guthaben|ersparnisse) (?:\w+ ){0,3}ab\b"),
        "legal_threat": (r"\b(?:rechts)?anw(?:a|ä|ae)lt\w*",
                         r"\b(?:zeige|zeigen) (?:das|euch|sie|dich|es|den laden) (?:\w+ )?an\b",
                         r"\banzeige (?:erstatten|erstatte|wegen)\b|\berstatte anzeige\b",
                         r"\b(?:datenschutzbeh(?:ö|oe|o)rde|datenschutzbeauftragt\w*|bundesnetzagentur|schlichtungsstelle)\b",
                         r"\bverbraucher(?:schutz|zentrale)\w*",
                         r"\b(?:verklagen|klage einreichen|rechtliche schritte)\b"),
        "manager_request": (r"\bvorgesetzt\w*",
                            r"\b(?:mit|den|ihren|einen) (?:chef|teamleiter|geschäftsführer)\b"),
        "repeat_contact": (r"\bzum (?:zweiten|dritten|vierten|f(?:ü|ue|u)nften|sechsten|\d+\.) mal\b",
                           # "Wie oft denn noch", "wie oft muss ich Ihnen noch ..." (not "wie
                           # oft muss ich die Filter wechseln?": without "noch" it asks).
                           r"\bwie oft (?:denn\b|(?!kann|darf|k(?:ö|oe|o)nnen|d(?:ü|ue|u)rfen)[^.!?\n]{0,40}?\bnoch\b)",
                           r"\bdas (?:dritte|vierte|f(?:ü|ue|u)nfte|sechste) mal\b",
                           r"\b(?:zwei|drei|vier|f(?:ü|ue|u)nf|mehr)mal\b",
                           r"\b(?:immer noch|noch immer) (?:nicht|kein|nichts)\b",
                           r"\bschon wieder\b"),
        "abusive": (r"\bschei(?:ß|ss)\w*",
                    r"\b(?:idioten?|vollidiot\w*|arschl(?:o|ö|oe)ch\w*|wichser|trottel|penner)\b",
                    r"\bverarsch\w*"),
        "urgent": (r"\b(?:dringend|sofort|umgehend)\b",),
    },
    "fr": {
        "churn_risk": (r"\br[ée]sili\w*",
                       r"\b(?:je suis pass[ée]e? chez|j'ai sign[ée] (?:ailleurs|chez|avec))\b",
                       r"\b(?:fermez|cl[ôo]turez|fermer|cl[ôo]turer) (?:mon|notre) compte\b",
                       r"\b(?:je pars|je vais partir|je passe) (?:chez|à) (?:la concurrence|un concurrent)",
                       r"\b(?:je retire|nous retirons) (?:tout |tous )?(?:mon|mes|notre|nos) (?:argent|fonds|[ée]pargne|comptes)\b"),
        "legal_threat": (r"\bavocats?\b",
                         r"\b(?:je vous d[ée]nonce|d[ée]noncer|cnil|dgccrf|association de consommateurs)\b",
                         r"\b(?:porter plainte|porte plainte|mise en demeure|poursuites judiciaires)\b"),
        "manager_request": (r"\b(?:un|une|votre|au|le) (?:responsable|sup[ée]rieur|manager)\b",),
        "repeat_contact": (r"\b(?:deuxi[èe]me|troisi[èe]me|quatri[èe]me|cinqui[èe]me|sixi[èe]me) fois\b",
                           # "Combien de fois faudra-t-il que je renvoie le même ..." (not
                           # "combien de fois faut-il recharger la batterie ?").
                           r"\bcombien de fois\b[^.!?\n]{0,50}?\b(?:encore|m[êe]mes?|r[ée]p[ée]ter|redire|(?:r[ée]?)?expliquer|r?envoyer|relancer|rappeler|r[ée]?[ée]crire)\b",
                           r"\b(?:deux|trois|quatre|cinq|plusieurs) fois\b",
                           r"\btoujours (?:pas|rien)\b",
                           r"\bd[ée]j[àa] (?:demand|expliqu|[ée]crit|envoy|appel)\w*"),
        "abusive": (r"\bmerd(?:e|ique)\b",
                    r"\b(?:connards?|connasse|cr[ée]tins?|encul[ée]s?|putain|salauds?|abrutis?)\b"),
        "urgent": (r"\b(?:imm[ée]diatement|tout de suite|au plus vite)\b",),
    },
    "es": {
        "churn_risk": (r"\b(?:cancelar[ée]?|cancelo|doy de baja|dar de baja|darme de baja|di de baja) (?:mi |la |el |de )?(?:cuenta|suscripci[óo]n|contrato|servicio|abono|plan|todo)",
                       r"\b(?:den de baja|cancelen|cierren) (?:mi |la |el )?(?:cuenta|suscripci[óo]n|contrato|servicio|l[íi]nea|plan)",
                       r"\b(?:me he cambiado|me cambi[ée]|contrat[ée] con|me pas[ée]) (?:a |con )?otr[oa] (?:compañ[íi]a|empresa|operador|operadora|banco)",
                       r"\bporten mi n[úu]mero\b",
                       r"\bme (?:voy|cambio) (?:a|con) (?:la competencia|otra (?:compañ[íi]a|empresa))",
                       r"\b(?:he contratado|hemos contratado) (?:con )?otr[oa] (?:compañ[íi]a|empresa|operador|operadora|banco)",
                       r"\b(?:tramiten|gestionen|procesen) (?:la |mi )?(?:baja|cancelaci[óo]n|portabilidad)\b"),
        "legal_threat": (r"\babogad[oa]s?\b",
                         r"\b(?:denuncio|os denuncio|les denuncio|oficina del consumidor|protecci[óo]n de datos)\b",
                         r"\b(?:denuncia|denunciar[ée]?|acciones legales|demandar(?:les|los)?)\b",
                         r"\b(?:hoja de reclamaciones|oficina de consumo|en consumo)\b"),
        "manager_request": (r"\b(?:un|una|su|al|el) (?:supervisor|responsable|encargad[oa]|gerente)\b",),
        "repeat_contact": (r"\b(?:segunda|tercera|cuarta|quinta|sexta) vez\b",
                           # "¿Cuántas veces más tengo que explicar ...?" (not "¿cuántas veces
                           # hay que regar la planta?").
                           r"\bcu[áa]ntas veces (?:m[áa]s\b|[^.!?\n]{0,40}?\b(?:explicar|repetir|decir|llamar|enviar|mandar|escribir|reclamar)\w*)",
                           r"\b(?:dos|tres|cuatro|cinco|seis|varias) veces\b",
                           r"\botra vez\b",
                           r"\bya (?:ped[íi]|expliqu[ée]|escrib[íi]|llam[ée]|le dije|les dije)\b",
                           r"\bsigo sin\b"),
        "abusive": (r"\bmierda\b",
                    r"\b(?:gilipollas|imb[ée]ciles?|idiotas?|cabrones?|joder|pendejos?)\b"),
        "urgent": (r"\b(?:urgente|inmediatamente|de inmediato|ahora mismo)\b",),
    },
    "pt": {
        "churn_risk": (r"\b(?:vou cancelar|cancelar|cancelei|cancelo) (?:a |o |minha |meu )?(?:assinatura|conta|contrato|plano|servi[çc]o|tudo)",
                       r"\b(?:cancelem|encerrem|fechem) (?:a |o |minha |meu )?(?:assinatura|conta|contrato|plano|servi[çc]o|linha)",
                       r"\b(?:mudei|troquei|passei) (?:para|de) (?:outra|outro) (?:operadora|empresa|banco|fornecedor)|\bassinei com (?:outra|outro)\b",
                       r"\b(?:trocar|mudar) de (?:operadora|empresa|fornecedor)",
                       r"\b(?:contratei|contratamos|acabei de contratar) (?:com )?(?:a |uma )?(?:outra|outro) (?:operadora|empresa|banco|fornecedor)",
                       r"\b(?:providenciar|providenciem|processem) (?:o |a )?(?:cancelamento|encerramento|portabilidade)\b"),
        "legal_threat": (r"\badvogad[oa]s?\b",
                         r"\b(?:denunciar|denunciarei|vou denunciar|anatel|anpd|registrar (?:uma )?queixa)\b",
                         r"\b(?:procon|reclame aqui|a[çc][ãa]o judicial|processar voc[êe]s|juizado)\b"),
        "manager_request": (r"\b(?:um|o|seu|ao|com o) (?:supervisor|gerente|respons[áa]vel|superior)\b",),
        "repeat_contact": (r"\b(?:segunda|terceira|quarta|quinta|sexta) vez\b",
                           # "Quantas vezes vou ter que mandar o mesmo ...?" (not "quantas vezes
                           # tenho de tomar o medicamento?").
                           r"\bquantas vezes (?:mais\b|[^.!?\n]{0,40}?\b(?:explicar|repetir|dizer|ligar|enviar|mandar|escrever|reclamar)\w*)",
                           r"\b(?:duas|tr[êe]s|quatro|cinco|v[áa]rias) vezes\b",
                           r"\b(?:de novo|mais uma vez)\b",
                           r"\bj[áa] (?:pedi|liguei|expliquei|falei|mandei|escrevi)\b"),
        "abusive": (r"\bmerda\b",
                    r"\b(?:idiotas?|imbecis|imbecil|babacas?|porra|caralho|fdp|ot[áa]rios?)\b"),
        "urgent": (r"\b(?:urgente|imediatamente|agora mesmo)\b",),
    },
}

_COMPILED: dict[str, re.Pattern[str]] = {
    signal: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    for signal, patterns in _PATTERNS.items()
}
# Case-sensitive twins run on lower-cased text: several times faster than IGNORECASE.
# Per language: the English patterns plus that language's (None: every language).
def _join(patterns: dict[str, tuple[str, ...]], flags: int) -> dict[str, re.Pattern[str]]:
    return {signal: re.compile("|".join(f"(?:{p})" for p in alternatives), flags)
            for signal, alternatives in patterns.items()}


def _merged(languages: list[str]) -> dict[str, tuple[str, ...]]:
    merged = {signal: tuple(patterns) for signal, patterns in _PATTERNS.items()}
    for language in languages:
        for signal, patterns in _LOCAL_PATTERNS[language].items():
            merged[signal] = merged[signal] + patterns
    return merged


_BY_LANGUAGE: dict[str | None, tuple[dict[str, re.Pattern[str]], dict[str, re.Pattern[str]]]] = {
    None: (_join(_merged(list(_LOCAL_PATTERNS)), 0),
           _join(_merged(list(_LOCAL_PATTERNS)), re.IGNORECASE)),
    "en": (_join(_PATTERNS, 0), _join(_PATTERNS, re.IGNORECASE)),
    **{language: (_join(_merged([language]), 0), _join(_merged([language]), re.IGNORECASE))
       for language in _LOCAL_PATTERNS},
}

def is_injection(sentence: str) -> bool:
    """True when the sentence is addressed to a model ("rate this positive")."""
    folded = sentence.replace("\u2019", "'").replace("\u2018", "'")
    return _COMPILED["prompt_injection"].search(folded) is not None


@dataclass(frozen=True, slots=True)
class SignalHit:
    signal: str
    phrase: str  # quoted verbatim from the text


def find_signals(text: str, *, limit_per_signal: int = 3,
                 language: str | None = None) -> list[SignalHit]:
    """Every hard signal in `text` with up to `limit_per_signal` triggering phrases each.

    `language` (ISO 639-1) limits the patterns to English plus that language's, which is
    faster; None (or a language without patterns of its own) runs them all."""
    hits: list[SignalHit] = []
    # Apostrophe variants would otherwise defeat the patterns ("won’t").
    folded = text.replace("\u2019", "'").replace("\u2018", "'")
    lowered = folded.lower()
    # Offsets must map back to `text`; a few characters change length when lower-cased.
    lower, ignoring = _BY_LANGUAGE.get(language, _BY_LANGUAGE[None])
    patterns, subject = ((lower, lowered) if len(lowered) == len(text) else (ignoring, folded))
    for signal, pattern in patterns.items():
        for count, match in enumerate(pattern.finditer(subject)):
            if count >= limit_per_signal:
                break
            hits.append(SignalHit(signal, text[match.start():match.end()].strip()))
    return hits
