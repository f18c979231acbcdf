"""The words of each language that fill the cue shapes of daemon.scoring.cues.

One table per language: slot name -> alternatives (regular expressions over folded
words: lower case, umlauts spelled out, accents removed, numbers as "#").  A shape in
daemon.scoring.cues names its slots ("{NOW}", "{LEAVE}"); a language without one of a
shape's slots simply has no pattern of that shape.  Written from general knowledge of
how customers in each language complain, in families of words, not fitted to any data
set.  Slots ending in "_IDIOMS" are fixed expressions of one language that no shared
shape describes ("von Pontius zu Pilatus", "empurra-empurra").
"""

from __future__ import annotations

from daemon.scoring.cue_words_romance import ES, FR, PT, Slots

# Ordinals from "third" up: a third contact is no longer an accident.
_EN_ORDINAL = ["third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
               "umpteenth", "# rd", "# th"]
_DE_ORDINAL = ["dritte", "vierte", "fuenfte", "sechste", "siebte", "achte", "neunte",
               "zehnte", "x te", "# te", "#"]

EN: Slots = {
    # A delay refused and disbelief asked as a question (family "refusal").
    "REFUSED_DELAY": ["no , not (?:another|one more) (?:week|day|month|delay)"],
    "DISBELIEF": ["(?:^|(?<=[.!?\\n] ))(?:seriously|really) , (?:you|i|we)"],
    # A decision to leave, stated coldly: refusing offers, years of loyalty ended.
    "DECIDED": ["{REFUSED}", "{WENT_ELSEWHERE}", "(?:do not|no need to) (?:send|offer|call)(?: me| us)? (?:any |a |with )?(?:offers?|retention|deals?|discounts?)", "(?:do not|no longer) want (?:any|a|your) (?:retention )?(?:offers?|deals?|discounts?)", "no retention (?:offers?|calls?)", "will not be taking any calls", "(?:my|our|the) decision is final", "not up for discussion", "after (?:#|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty) years (?:as a customer|with you|of loyalty)"],
    # Refusing to pay, and a move to a competitor told as done (issue 9).
    "REFUSED": ["(?:i|we) (?:will not|wo not|refuse to|am not going to|are not going to|am not|are not) (?:pay|be paying|paying)"],
    "WENT_ELSEWHERE": ["(?:i am|we are|i will be|we will be|i ll be|we ll be|i have|we have|i ve|we ve) (?:taking|moving|switched|moved|gone) (?:[^ .!?\\n]+ ){0,2}(?:business|money|custom|account) elsewhere", "(?:signed up|gone|went) with (?:another|a different|a competitor|your competitor)"],
    # Charged for what was promised free or at a fixed price.
    "FREE": ["free", "free of charge", "at no (?:extra )?cost", "no (?:extra )?charge", "(?:a )?fixed (?:price|rate)", "(?:price|rate) (?:was )?(?:fixed|locked)"],
    "CHARGED": ["charg\\w*", "bill\\w*", "invoic\\w*", "fees?", "(?:went|gone|goes) up", "increas\\w*", "rais\\w*", "from(?= # to #)"],
    "NUM": ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "a dozen", "dozens of", "#", "several", "multiple", "numerous", "countless"],
    "PEOPLE": ["people", "persons", "agents", "reps", "representatives", "departments",
               "teams", "staff members", "employees", "operators", "colleagues",
               "advisors", "advisers", "technicians", "support agents"],
    "OWED": ["fix", "solution", "resolution", "explanation", "answer", "response", "reply",
             "refund", "callback", "call back", "apology", "compensation", "credit",
             "replacement", "date", "you", "your", "my", "our", "this", "it", "someone"],
    "NOW": ["immediately", "right away", "at once", "right now", "this instant",
            "straight away", "without (?:any )?(?:further )?delay", "this minute"],
    "TODAY": ["{NOW}", "asap", "as soon as possible", "today", "tonight", "now",
              "by (?:end of (?:the )?day|eod|tomorrow)", "within (?:the hour|# hours)"],
    "DEMAND": ["(?:i|we) (?:(?:do|fully|absolutely|now|still) )?(?:demand|insist|require)"],
    "EXPECT": ["(?:i|we) (?:(?:do|fully|absolutely|now|still) )?expect"],
    "WANT": ["(?:i|we) (?:(?:do|really|now) )?(?:want|need){SAYING}"],
    # "I just want to say thanks": telling, not demanding (a lookahead after WANT).
    "SAYING": ["(?! (?:just |only |simply )?to (?:say|thank|let|tell|share|compliment"
               "|praise|mention|note|add|give)\\b)"],
    "IMPERATIVE": ["fix", "sort", "cancel", "refund", "close", "stop", "remove", "reverse",
                   "resolve", "return", "delete", "call"],
    "CAUSE": ["caus\\w*", "done", "did", "doing", "dealt"],
    "DAMAGE": ["damage", "harm"],
    "COST": ["cost (?:me|us)"],
    "LOST": ["(?:i|we|i ve|we ve|have|has|had) lost"],
    "ASSETS": ["sales", "revenue", "customers", "clients", "orders", "business", "income",
               "money", "bookings", "deals?", "contracts?", "data", "work", "wages",
               "jobs?", "reputation"],
    "PAYMENT": ["rent", "payment", "mortgage", "cheque", "check", "direct debit", "payroll"],
    "BOUNCED": ["(?:has |have |had |was |got )?(?:bounced|returned unpaid)"],
    "HARM_IDIOMS": [
        "(?:damag\\w*|harm\\w*|hurt\\w*) (?:to )?(?:my|our) (?:business|company|reputation"
        "|shop|store|credit|clients|customers|sales)",
        "lost (?:a|an|one|two|three|#|half a|a whole|an entire|a full) (?:full |whole "
        "|entire )?(?:day|days|week|weeks|morning|afternoon|weekend|working day|business day)",
        "(?:overdraft|bounce|bounced payment) (?:fees?|charges?)", "out of pocket",
        "(?:bank|card) (?:has )?charged (?:me|us) (?:interest|fees?|a fee)",
        "(?:went|gone|go) (?:into (?:my |the )?overdraft|over (?:its|my|the) limit)"],
    "DIFFERENT": ["different", "separate"],
    "TOLD": ["spoke", "spoken", "talked", "talking", "explained", "explaining", "told",
             "repeated", "described", "passed", "transferred", "bounced", "dealt",
             "chatted", "through", "contacted", "called"],
    "TIMES_VERB": ["explain\\w*", "told", "repeat\\w*", "describ\\w*", "transferr\\w*",
                   "passed", "call\\w*", "rang", "phoned", "chased", "contacted", "emailed",
                   "written", "wrote"],
    "TIMES": ["(?:different |separate )?(?:times|calls|occasions|chats)"],
    "AROUND_IDIOMS": [
        "(?:passed|transferred|bounced|shuffled|shunted|pushed|handed|sent) (?:[^ .!?\\n]+ )"
        "{0,3}(?:around|round|back and forth|from pillar to post|between|from one \\w+ to "
        "another)", "given the runaround", "run ?around"],
    "PROMISED": ["promised", "assured", "guaranteed", "told", "you said", "i was told"],
    "NEVER": ["never", "not once", "nothing", "nobody", "no one", "no word"],
    "BUT_NOT": ["(?:but|yet|still) (?:[^ .!?\\n]+ ){0,4}(?:not|no|nothing|never)"],
    "PROMISE_IDIOMS": ["{PROMISED} {G6}{FREE}[^?]{0,300}?{CHARGED}(?![^.!?\\n]*\\?)", "{CHARGED} [^?]{0,300}?{PROMISED} {G6}{FREE}(?![^.!?\\n]*\\?)", "broken promises?", "broke (?:your|their|the|its) promise",
                       "empty promises?"],
    "WITHOUT_WARNING": ["without (?:any )?(?:prior )?(?:warning|notice|notification|telling "
                        "(?:me|us)|asking (?:me|us))"],
    "DURATION": ["(?:a|one|two|three|four|five|six|#|several|many) (?:full )?(?:days?|weeks?"
                 "|months?)", "(?:days|weeks|months)"],
    "ELAPSED": ["{DURATION} (?:ago|later)", "(?:it s|it is|today is|now it s)(?= (?:monday"
                "|tuesday|wednesday|thursday|friday|saturday|sunday|the #|#))"],
    "GO": ["take", "taking", "move", "moving", "go", "going", "switch\\w*"],
    "AFTER": ["after", "since"],
    "OR_ELSE": ["or", "otherwise", "or else", "else"],
    "IF": ["if", "unless"],
    "LEAVE": ["clos\\w* (?:all )?(?:my|our) accounts?", "leave", "leaving", "cancel\\w*", "switch\\w*", "walk away", "terminate",
              "close (?:my|our|the) account", "move (?:my|our) (?:account|business|money)"],
    "ELSEWHERE": ["(?:business|money|custom|account) elsewhere",
                  "(?:another|a different|other) (?:provider|company|supplier|bank|carrier"
                  "|vendor|airline|operator)", "(?:a|the|your) competitors?"],
    "ESCALATE": ["report\\w*", "complain\\w*", "complaint", "go(?:ing)? (?:straight )?to",
                 "writ\\w*", "escalat\\w*", "fil\\w*", "take (?:this|it)", "tell\\w*"],
    "AUTHORITY": ["regulator", "ombudsman", "trading standards", "consumer protection",
                  "consumer rights", "better business bureau", "bbb", "ftc", "ofcom",
                  "ofgem", "fca", "cfpb", "attorney general", "press", "media",
                  "newspapers?", "journalists?", "social media"],
    "NOT_OVER_IDIOMS": ["this (?:is not|isn t|won t be|will not be) (?:over|the end of it)",
                        # "Enough." as a sentence of its own: the limit reached.
                        "(?:^|(?<=[.!?\\n] ))(?:enough is enough|enough)(?= [.!?])",
                        "(?:you|this) will (?:hear|regret)",
                        "post (?:\\w+ ){0,4}(?:online|everywhere)",
                        # A public shaming promised: one star (singular; "5 stars" is praise),
                        # everyone told.
                        "(?:one|a single) star (?:review|rating)s?",
                        "(?:everyone|everybody) (?:will|is going to|should) (?:know|hear) (?:how|what|about)"],
    "CONTACT": ["time", "email", "e mail", "message", "call", "request", "ticket", "letter",
                "chat", "complaint", "reminder"],
    "ORDINAL": _EN_ORDINAL,
    "CONTACTS": ["emails", "calls", "tickets", "chats", "messages", "agents", "technicians",
                 "visits", "appointments", "reference numbers", "case numbers", "times",
                 "hours on hold", "hours", "transfers", "promises", "answers", "replies",
                 "days", "weeks", "months"],
    "STILL_NOTHING": ["still (?:nothing|no (?:answer|reply|response|word|refund|update|news"
                      "|one|date|technician|fix))", "(?:and )?nothing (?:since|yet|so far)",
                      # What did not happen, told as a fact: nobody came, not one call.
                      "(?:nobody|no one) (?:has |ever )?(?:called|came|turned up|showed up|rang|got back)",
                      "not (?:a single|one) (?:call|email|reply|word|message)"],
    "WAIT": ["(?:been )?(?:waiting|waited|patient)", "been chasing"],
    "REPAY": ["refund\\w*", "reimburs\\w*", "cover", "pay (?:back|for)", "compensat\\w*",
              "repay\\w*", "responsible for"],
    "IN_FULL": ["in full", "entirely", "every (?:cent|penny)", "the full amount",
                "in (?:its|their) entirety"],
    "YOUR_FAULT": ["(?:because of|due to|thanks to|through) (?:your|you) (?:[^ .!?\\n]+ )?"
                   "(?:mistake|error|fault|delay|negligence|incompetence|failure|outage)",
                   "your (?:[^ .!?\\n]+ )?(?:mistake|fault|negligence|incompetence)"],
}

DE: Slots = {
    # A delay refused and disbelief asked as a question (family "refusal").
    "REFUSED_DELAY": ["nein , nicht noch (?:eine|einen|ein) (?:woche|tag|monat|aufschub)"],
    "DISBELIEF": ["(?:^|(?<=[.!?\\n] ))(?:ernsthaft|im ernst) , (?:ich|wir|sie|ihr)"],
    # A decision to leave, stated coldly: refusing offers, years of loyalty ended.
    "DECIDED": ["{REFUSED}", "{WENT_ELSEWHERE}", "rueckgewinnungsangebot\\w*", "keine (?:angebote|rueckrufe|rueckgewinnung\\w*|halteangebote?)", "entscheidung (?:ist|steht) (?:endgueltig|fest)", "nach (?:#|zwei|drei|vier|fuenf|zehn|zwoelf|zwanzig) jahren (?:als kunde|bei (?:ihnen|euch)|treue)"],
    # Refusing to pay, and a move to a competitor told as done (issue 9).
    "REFUSED": ["(?:werde|werden) (?:ich|wir) (?:[^ .!?\\n]+ ){0,3}{NOT_EVER} (?:be)?zahlen", "(?:ich|wir) (?:werde|werden) (?:[^ .!?\\n]+ ){0,3}{NOT_EVER} (?:be)?zahlen", "(?:ich|wir) (?:zahle|zahlen|bezahle|bezahlen) (?:[^ .!?\\n]+ ){0,2}nicht", "(?:zahle|zahlen|bezahle|bezahlen) (?:ich|wir) (?:[^ .!?\\n]+ ){0,2}nicht", "weiger\\w* (?:mich|uns) (?:[^ .!?\\n]+ ){0,3}zu (?:be)?zahlen"],
    "NOT_EVER": ["nicht", "keinesfalls", "auf keinen fall", "sicher nicht"],
    "WENT_ELSEWHERE": ["(?:bin|sind|habe|haben) (?:[^ .!?\\n]+ ){0,3}(?:zur konkurrenz|zu einem anderen anbieter) (?:gewechselt|gegangen)", "(?:habe|haben) (?:[^ .!?\\n]+ ){0,3}(?:bei einem anderen anbieter|bei der konkurrenz) (?:abgeschlossen|unterschrieben)"],
    # Charged for what was promised free or at a fixed price.
    "FREE": ["kostenlos", "kostenfrei", "gratis", "ohne (?:zusatz)?kosten", "festpreis", "fest\\w* preis"],
    "CHARGED": ["berechn\\w*", "abgebucht", "abbuch\\w*", "gebuehr\\w*", "rechnung", "erhoeh\\w*", "von(?= # (?:[^ .!?\\n]+ )?auf #)"],
    "NUM": ["zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "neun", "zehn",
            "zwoelf", "#", "mehrere[n]?", "etliche[n]?", "zig"],
    "PEOPLE": ["leute[n]?", "personen", "mitarbeiter\\w*", "abteilungen", "agenten",
               "kollegen", "kolleginnen", "ansprechpartner\\w*", "stellen", "berater\\w*",
               "techniker\\w*", "menschen"],
    "OWED": ["\\w*loesung", "antwort", "erklaerung", "rueckruf", "erstattung",
             "rueckerstattung", "rueckmeldung", "entschuldigung", "gutschrift",
             "entschaedigung", "behebung", "korrektur", "reparatur", "termin", "dass",
             "von ihnen", "von euch", "ihre[nm]?", "eure[nm]?", "mein\\w*", "unser\\w*",
             "schriftlich"],
    "NOW": ["sofort", "umgehend", "unverzueglich", "auf der stelle", "ab sofort",
            "ohne weitere verzoegerung"],
    "TODAY": ["{NOW}", "schnellstmoeglich", "heute", "jetzt", "bis morgen", "noch heute",
              "heute noch", "innerhalb von # stunden"],
    "DEMAND": ["(?:ich|wir) (?:verlange|verlangen|fordere|fordern|bestehe|bestehen)",
               "(?:verlange|verlangen|fordere|fordern) (?:ich|wir)"],
    "EXPECT": ["(?:ich|wir) (?:erwarte|erwarten)", "(?:erwarte|erwarten) (?:ich|wir)"],
    "WANT": ["(?:ich|wir) (?:will|wollen|brauche|brauchen){SAYING}"],
    "SAYING": ["(?! (?:[^ .!?\\n]+ ){0,4}(?:sagen|danken|bedanken|loben|mitteilen"
               "|erwaehnen|ausrichten|anmerken)\\b)"],
    "DEMAND_IDIOMS": ["(?:sofort|umgehend|unverzueglich|auf der stelle) (?:[^ .!?\\n]+ )"
                      "{0,6}(?:erwarte|verlange|fordere) ich"],
    "IMPERATIVE": ["\\w+en sie"],
    "HARM_IDIOMS": [
        "geschadet", "geschaedigt", "schadenersatz", "schadensersatz",
        "schadensersatzforderung\\w*", "verdienstausfall", "umsatzausfall",
        "umsatzeinbusse\\w*", "umsatzverlust\\w*", "einnahmeausfall\\w*", "mahngebuehr\\w*",
        "ruecklastschrift\\w*", "ueberziehungszinsen", "dispozinsen",
        "(?:schaden|schaeden) (?:[^ .!?\\n]+ ){0,3}(?:entstanden|verursacht|zugefuegt"
        "|erlitten|angerichtet)",
        "(?:entstanden|verursacht|zugefuegt|erlitten|angerichtet|enormen|erheblichen"
        "|grossen|finanziellen|wirtschaftlichen) (?:[^ .!?\\n]+ ){0,2}(?:schaden|schaeden)",
        "(?:hat|haben|hatte) (?:uns|mich) (?:[^ .!?\\n]+ ){0,4}(?:kunden|umsatz|geld"
        "|auftraege|einnahmen|einen (?:ganzen )?tag) gekostet",
        "konto (?:ist |steht )?im (?:minus|dispo)",
        "bank (?:berechnet|verlangt) (?:mir|uns) (?:zinsen|gebuehren)"],
    "ASSETS": ["kunden", "umsatz", "geld", "auftraege", "auftrag", "einnahmen", "daten",
               "bestellungen", "buchungen", "einen (?:ganzen )?(?:tag|arbeitstag)", "# tage"],
    "LOST_AFTER": ["verloren", "gekostet", "eingebuesst"],
    "PAYMENT": ["miete", "lastschrift", "zahlung", "ueberweisung", "mietzahlung"],
    "BOUNCED": ["(?:ist |wurde |war )?(?:geplatzt|zurueckgegangen|zurueckgebucht)"],
    "DIFFERENT": ["verschiedene[n]?", "unterschiedliche[n]?"],
    "TOLD_AFTER": ["erklaert", "geschildert", "beschrieben", "gesprochen", "telefoniert",
                   "geschrieben", "weitergeleitet", "verbunden", "weitergereicht", "geschickt"],
    "TIMES_PREFIX": ["(?:zwei|drei|vier|fuenf|sechs|sieben|acht|neun|zehn|zig|x)mal"],
    "TIMES_VERB_AFTER": ["erklaert", "geschildert", "beschrieben", "angerufen", "geschrieben",
                         "gemeldet", "verbunden", "weitergeleitet"],
    "AROUND_IDIOMS": [
        "hin und her (?:geschickt|verwiesen|verbunden|geschoben|weitergeleitet)",
        "von (?:abteilung zu abteilung|einem zum (?:anderen|naechsten)|einer stelle zur "
        "(?:anderen|naechsten)|pontius zu pilatus)", "im kreis (?:geschickt|geschoben)"],
    "PROMISED": ["versprochen", "zugesagt", "zugesichert", "garantiert", "hiess es",
                 "wurde (?:mir|uns) (?:[^ .!?\\n]+ )?gesagt"],
    "NEVER": ["nie", "niemals", "nichts", "nicht"],
    "PROMISE_IDIOMS": ["{PROMISED} {G6}{FREE}[^?]{0,300}?{CHARGED}(?![^.!?\\n]*\\?)", "{CHARGED} [^?]{0,300}?{PROMISED} {G6}{FREE}(?![^.!?\\n]*\\?)",
        "{FREE} {G4}{PROMISED}[^?]{0,300}?{CHARGED}(?![^.!?\\n]*\\?)",
        "(?:nie|niemals|nichts) (?:[^ .!?\\n]+ ){0,6}(?:obwohl|trotz) (?:[^ .!?\\n]+ ){0,4}"
        "(?:versprochen|zugesagt|zusage|versprechen)\\w*",
        "(?:leere|gebrochene) versprechen\\w*", "versprechen (?:nicht )?gehalten"],
    "WITHOUT_WARNING": ["ohne (?:jede |jegliche |eine )?(?:vorwarnung|vorankuendigung"
                        "|ankuendigung|vorherige (?:info\\w*|mitteilung|warnung)|rueckfrage"
                        "|zustimmung|mich zu (?:fragen|informieren))"],
    "DURATION": ["(?:einen|einem|eine|einer|zwei|drei|vier|fuenf|#|mehreren|vielen) "
                 "(?:tag|tagen|tage|woche|wochen|monat|monaten|monate)", "wochen", "monaten"],
    "ELAPSED": ["{DURATION} spaeter", "(?:heute|jetzt) (?:ist|haben wir) (?:der|den|schon)"],
    "GO": ["gehen", "gehe", "wechseln", "wechsle", "ziehen"],
    "AFTER": ["nachdem", "seit"],
    "OR_ELSE": ["oder", "sonst", "ansonsten", "andernfalls"],
    "IF": ["wenn", "falls", "sollte"],
    "LEAVE": ["(?:schliesse|loese) (?:[^ .!?\\n]+ ){0,3}(?:konto|konten)", "kuendige", "kuendigen", "wechsle", "wechseln", "storniere", "stornieren"],
    "ELSEWHERE": ["(?:zur|zu der|die) konkurrenz", "(?:den|einen anderen) anbieter",
                  "anderen anbieter", "anderswo"],
    "ESCALATE": ["gehe", "gehen", "wende", "wenden", "melde", "melden", "beschwerde",
                 "beschwere", "erstatte", "informiere", "schalte", "schalten", "schreibe"],
    "AUTHORITY": ["verbraucherzentrale", "bundesnetzagentur", "schlichtungsstelle",
                  "ombudsstelle", "ombudsmann", "bafin", "presse", "medien", "zeitung",
                  "oeffentlichkeit", "sozialen medien", "social media"],
    "NOT_OVER_IDIOMS": ["(?:das|dies) (?:wird|hat) (?:ein nachspiel|konsequenzen)",
                        "(?:^|(?<=[.!?\\n] ))(?:es |jetzt |mir )?reicht(?: es| s| jetzt)?(?= [.!?])",
                        "(?:das|dies) (?:lasse|lassen) (?:ich|wir) (?:mir|uns) nicht gefallen",
                        "(?:einen|ein|#) (?:einzigen )?stern(?= (?:bei|auf|in|bewertung)\\b)",
                        "(?:jeder|alle|die ganze welt) (?:soll|sollen|wird|werden) (?:erfahren|wissen) (?:wie|was)"],
    "CONTACT_IDIOMS": [
        "zum (?:dritten|vierten|fuenften|sechsten|siebten|x ten|zigsten|# ten|#) (?:mal|male)",
        "(?:dritte|vierte|fuenfte|sechste|zigste)[nrs]? (?:mail|e mail|anruf|nachricht"
        "|anfrage|beschwerde|ticket|erinnerung)"],
    "CONTACTS": ["mails", "e mails", "anrufe", "tickets", "nachrichten", "mitarbeiter",
                 "techniker", "termine", "mal", "stunden", "wochen", "tage"],
    "STILL_NOTHING": ["immer (?:noch )?(?:nichts|keine (?:antwort|rueckmeldung|loesung"
                      "|erstattung|reaktion))", "bis heute (?:nichts|keine)",
                      "noch immer (?:nichts|keine)",
                      "niemand (?:kam|ist gekommen|ist erschienen|erschien|hat (?:sich gemeldet|angerufen|zurueckgerufen))",
                      "(?:kein einziger|nicht ein) (?:anruf|rueckruf)", "keine einzige (?:antwort|mail|nachricht)"],
    "WAIT": ["warte\\w*", "gewartet"],
    "REPAY": ["tragen sie", "uebernehmen sie", "erstatten sie", "zahlen sie", "ersetzen sie",
              "gehen auf ihre rechnung", "kosten", "gebuehren"],
    "IN_FULL": ["vollstaendig", "komplett", "in voller hoehe", "vollumfaenglich",
                "bis auf den letzten cent"],
    "YOUR_FAULT": ["(?:wegen|durch|aufgrund) (?:ihre[sn]?|eure[sn]?|ihr|euer) (?:[^ .!?\\n]+ )?"
                   "(?:\\w*fehler\\w*|versehen\\w*|verzoegerung|schlamperei|verschulden)",
                   "(?:ihr|euer) (?:\\w*fehler|verschulden)"],
}


LANGUAGES: dict[str, Slots] = {"en": EN, "de": DE, "fr": FR, "es": ES, "pt": PT}
