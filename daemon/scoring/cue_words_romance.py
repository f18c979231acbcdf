"""The words of French, Spanish and Portuguese for the cue shapes of daemon.scoring.cues
(the format is described in daemon.scoring.cue_words, which holds English and German)."""

from __future__ import annotations

Slots = dict[str, list[str]]

_FR_ORDINAL = ["troisieme", "quatrieme", "cinquieme", "sixieme", "septieme", "huitieme",
               "dixieme", "enieme", "# e", "# eme"]

_ES_ORDINAL = ["tercera", "cuarta", "quinta", "sexta", "septima", "octava", "decima",
               "enesima", "tercer", "cuarto", "quinto", "sexto", "septimo", "decimo"]

_PT_ORDINAL = ["terceira", "quarta", "quinta", "sexta", "setima", "oitava", "decima",
               "enesima", "terceiro", "quarto", "quinto", "sexto", "setimo", "decimo"]

FR: Slots = {
    # A delay refused and disbelief asked as a question (family "refusal").
    "REFUSED_DELAY": ["non , pas (?:une|un) (?:autre|nouveau|nouvelle|semaine) (?:semaine|report|delai|retard|de plus)"],
    "DISBELIEF": ["(?:^|(?<=[.!?\\n] ))(?:serieusement|sans rire) , (?:je|nous|vous|on)"],
    # A decision to leave, stated coldly: refusing offers, years of loyalty ended.
    "DECIDED": ["{REFUSED}", "{WENT_ELSEWHERE}", "inutile de (?:me|nous) (?:rappeler|proposer|contacter|relancer)", "aucune offre", "(?:ma|notre) decision est (?:prise|definitive|irrevocable)", "apres (?:#|deux|trois|cinq|dix|douze|quinze|vingt) ans (?:chez vous|de fidelite|comme client)"],
    # Refusing to pay, and a move to a competitor told as done (issue 9).
    "REFUSED": ["(?:je|nous) ne (?:paierai|payerai|paierons|payerons|vais pas payer|allons pas payer|compte pas payer|paie pas|paye pas)", "refus\\w* de payer"],
    "WENT_ELSEWHERE": ["(?:je suis|nous sommes) (?:deja )?(?:passe|passes|partis?) (?:chez|a) (?:la concurrence|un concurrent|un autre (?:fournisseur|operateur))", "(?:j ai|nous avons) (?:deja )?(?:souscrit|signe) (?:chez|avec) (?:la concurrence|un concurrent|un autre (?:fournisseur|operateur))"],
    # Charged for what was promised free or at a fixed price.
    "FREE": ["gratuit\\w*", "sans frais", "offert\\w*", "prix fixe", "tarif fixe", "prix bloque"],
    "CHARGED": ["factur\\w*", "preleve\\w*", "prelevement\\w*", "frais", "augment\\w*", "passe\\w* de(?= #)"],
    "NUM": ["deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "douze",
            "#", "plusieurs", "differents", "differentes"],
    "PEOPLE": ["personnes", "conseillers", "conseilleres", "agents", "services",
               "interlocuteurs", "departements", "operateurs", "operatrices", "employes",
               "techniciens", "collaborateurs"],
    "OWED": ["solution", "reponse", "explication", "remboursement", "rappel", "geste",
             "excuses", "retour", "correction", "reparation", "dedommagement", "date",
             "que vous", "de vous", "de votre part", "votre", "vos", "mon", "ma", "mes",
             "par ecrit"],
    "NOW": ["immediatement", "tout de suite", "sur le champ", "sans delai",
            "sans plus tarder", "dans l heure"],
    "TODAY": ["{NOW}", "au plus vite", "de toute urgence", "aujourd hui", "des aujourd hui",
              "maintenant", "d ici demain", "avant ce soir", "demain"],
    "DEMAND": ["(?:j|je|nous) (?:exige|exigeons|insiste|insistons|reclame|reclamons)"],
    "EXPECT": ["(?:j|je|nous) (?:attends|attendons)"],
    "WANT": ["(?:je|nous) (?:veux|voulons|demande|demandons){SAYING}", "j ai besoin"],
    # "Je veux juste vous remercier": telling, not demanding (a lookahead after WANT).
    "SAYING": ["(?! (?:juste |simplement |seulement )?(?:vous )?(?:dire|remercier|feliciter"
               "|signaler que|souligner|partager)\\b)"],
    "IMPERATIVE": ["\\w+ez"],
    "HARM_IDIOMS": [
        "prejudice\\w*", "dommages et interets", "degats", "manque a gagner", "agios",
        "frais de rejet", "(?:compte|solde) (?:est |etait )?(?:a decouvert|dans le rouge)"],
    "LOST": ["perdu", "perte de", "pertes de", "perdre"],
    "ASSETS": ["clients?", "ventes", "chiffre d affaires", "commandes", "argent", "revenus",
               "donnees", "journee", "jours?", "semaine", "contrats?", "reservations"],
    "COST": ["coute", "coutera"],
    "PAYMENT": ["loyer", "prelevement", "cheque", "virement", "paiement"],
    "BOUNCED": ["rejete", "rejetee", "impaye", "refuse"],
    "DIFFERENT": ["differents", "differentes", "distincts"],
    "TOLD": ["parle", "explique", "repete", "raconte", "eu", "passe", "transfere",
             "transferee", "renvoye", "renvoyee", "contacte", "appele", "affaire"],
    "TIMES_VERB": ["explique", "repete", "raconte", "decrit", "appele", "ecrit", "relance",
                   "signale", "transfere"],
    "TIMES": ["fois"],
    "AROUND_IDIOMS": [
        "(?:balade|baladee|balades|baladent|ballotte|ballottee|renvoye|renvoyee|transfere"
        "|transferee|trimbale|trimballe) (?:[^ .!?\\n]+ ){0,3}(?:entre|de service en service"
        "|d un service a l autre|de l un a l autre)",
        "de service en service", "d un service a l autre", "renvoient la balle",
        "se renvoient"],
    "PROMISED": ["promis", "promise", "assure", "garanti", "garantie", "on m a dit",
                 "(?:vous )?m (?:a|avait|avez|aviez) (?:[^ .!?\\n]+ )?dit"],
    "NEVER": ["jamais", "rien", "toujours pas", "pas"],
    "PROMISE_IDIOMS": ["{PROMISED} {G6}{FREE}[^?]{0,300}?{CHARGED}(?![^.!?\\n]*\\?)", "{CHARGED} [^?]{0,300}?{PROMISED} {G6}{FREE}(?![^.!?\\n]*\\?)", "promesses? (?:non tenues?|en l air|vides?)"],
    "WITHOUT_WARNING": ["sans (?:me |nous )?(?:prevenir|avertir|previent|avertissement"
                        "|preavis|aucun preavis|aucun avertissement|aucune information"
                        "|demander|informer|mon accord|notre accord)"],
    "DURATION": ["(?:un|une|deux|trois|quatre|cinq|#|plusieurs) (?:jours?|semaines?|mois)",
                 "semaines", "mois"],
    "ELAPSED": ["il y a {DURATION}", "{DURATION} (?:plus tard|apres)",
                "(?:aujourd hui|on est|nous sommes)(?= (?:le #|lundi|mardi|mercredi|jeudi"
                "|vendredi|samedi|dimanche))"],
    "AFTER": ["apres", "depuis"],
    "OR_ELSE": ["ou", "sinon", "soit", "faute de quoi"],
    "IF": ["si"],
    "LEAVE": ["clotur\\w*", "ferme (?:mon|mes|notre|nos) comptes?", "resilie", "resilier", "resilierai", "pars", "partons", "partir", "quitte",
              "quitter", "annule", "annuler", "change de (?:fournisseur|operateur|banque"
              "|prestataire)"],
    "ELSEWHERE": ["(?:chez )?(?:un|le|la) concurren\\w+", "change\\w* de (?:fournisseur|operateur"
                  "|banque|prestataire)", "(?:un autre|d autres) (?:fournisseur|operateur"
                  "|prestataire)", "ailleurs"],
    "GO": ["partons", "pars", "partir", "aller", "irai", "irons", "passer", "passe"],
    "ESCALATE": ["saisi\\w*", "plainte", "signale\\w*", "ecri\\w*", "alerte\\w*", "contacte\\w*",
                 "publie\\w*", "porte\\w*", "vais", "irai"],
    "AUTHORITY": ["mediateur", "dgccrf", "ufc", "que choisir", "60 millions", "arcep", "cnil",
                  "association de consommateurs", "presse", "journalistes?", "medias",
                  "reseaux sociaux"],
    "NOT_OVER_IDIOMS": ["(?:ca|cela) ne va pas (?:en )?rester (?:la|comme ca)",
                        "(?:^|(?<=[.!?\\n] ))(?:ca suffit|c en est assez|trop c est trop)(?= [.!?])",
                        "(?:ca|cela) ne se passera pas comme ca",
                        "vous (?:allez|aurez) (?:le regretter|de mes nouvelles)",
                        "(?:une|#) (?:seule )?etoile(?= (?:sur|partout|sur google)\\b)",
                        "tout le monde (?:saura|va savoir) (?:comment|ce que)"],
    "CONTACT": ["fois", "mail", "e mail", "courriel", "appel", "message", "relance",
                "demande", "reclamation"],
    "ORDINAL": _FR_ORDINAL,
    "CONTACTS": ["mails", "appels", "tickets", "messages", "conseillers", "techniciens",
                 "rendez vous", "fois", "heures", "jours", "semaines", "mois", "relances"],
    "STILL_NOTHING": ["toujours (?:rien|pas de (?:reponse|nouvelles|remboursement|solution"
                      "|technicien|date))", "(?:et )?(?:toujours )?aucune (?:reponse|nouvelle)",
                      "personne n (?:est|a) (?:venu|passe|appele|rappele|repondu)",
                      "(?:pas|sans) un (?:seul )?(?:appel|coup de fil|mail|message)"],
    "WAIT": ["patient\\w*", "attend\\w*"],
    "REPAY": ["rembours\\w*", "a votre charge", "a vos frais", "pris en charge", "payer",
              "dedommag\\w*"],
    "IN_FULL": ["integralement", "en totalite", "entierement", "en integralite",
                "jusqu au dernier centime"],
    "YOUR_FAULT": ["(?:a cause de|suite a|en raison de|par) (?:votre|vos) (?:[^ .!?\\n]+ )?"
                   "(?:erreur|faute|retard|negligence|incompetence|panne)"],
}

ES: Slots = {
    # A delay refused and disbelief asked as a question (family "refusal").
    "REFUSED_DELAY": ["no , otr[oa] (?:semana|mes|dia|retraso|aplazamiento) no"],
    "DISBELIEF": ["(?:^|(?<=[.!?\\n] ))(?:¿ )?(?:en serio|de verdad) (?:que )?(?:me|tengo|tenemos|hay que|para)"],
    # A decision to leave, stated coldly: refusing offers, years of loyalty ended.
    "DECIDED": ["{REFUSED}", "{WENT_ELSEWHERE}", "(?:no quiero|no queremos|sin) (?:ninguna )?ofertas?", "no (?:me|nos) llamen", "decision (?:es )?(?:definitiva|tomada)", "despues de (?:#|dos|tres|cinco|diez|doce|quince|veinte) anos (?:como cliente|con ustedes|de fidelidad)"],
    # Refusing to pay, and a move to a competitor told as done (issue 9).
    "REFUSED": ["no (?:voy|vamos|pienso|pensamos) a pagar", "no (?:pienso|pensamos) pagar", "no (?:pagare|pagaremos)", "(?:me|nos) nego a pagar", "(?:me|nos) negamos a pagar", "no (?:deseo|deseamos) (?:recibir )?(?:ninguna )?ofertas?"],
    "WENT_ELSEWHERE": ["(?:he|hemos) contratado (?:con )?(?:otra compania|otra operadora|otro banco|otro proveedor|la competencia)", "(?:me he|nos hemos) (?:ido|cambiado|pasado) a (?:la competencia|otra compania|otra operadora|otro banco)"],
    # Charged for what was promised free or at a fixed price.
    "FREE": ["gratis", "gratuit\\w*", "sin (?:coste|costo|cargo|comision)", "precio fijo", "tarifa fija"],
    "CHARGED": ["cobr\\w*", "factur\\w*", "comision\\w*", "cargo\\w*", "subi\\w*", "aument\\w*", "de(?= # (?:[^ .!?\\n]+ )?a #)"],
    "NUM": ["dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "doce",
            "#", "varios", "varias", "distintos", "distintas", "diferentes"],
    "PEOPLE": ["personas", "agentes", "operadores", "operadoras", "departamentos", "asesores",
               "asesoras", "empleados", "tecnicos", "areas", "gestores", "teleoperadores"],
    "OWED": ["solucion", "respuesta", "explicacion", "reembolso", "devolucion", "llamada",
             "fecha", "disculpa", "compensacion", "que", "por escrito"],
    "NOW": ["inmediatamente", "de inmediato", "ya mismo", "ahora mismo", "sin demora",
            "sin mas demora", "en el acto"],
    "TODAY": ["{NOW}", "hoy mismo", "cuanto antes", "lo antes posible", "hoy", "ahora", "ya",
              "antes de manana", "para manana", "manana"],
    "DEMAND": ["exijo", "exigimos", "insisto", "reclamo", "reclamamos", "exijo que"],
    "WANT": ["(?:quiero|queremos|necesito|necesitamos|espero|esperamos){SAYING}"],
    "SAYING": ["(?! (?:solo |solamente |simplemente )?(?:decir|agradecer|dar las gracias"
               "|felicitar|comentar|destacar|dejar constancia|compartir|resaltar)\\b)"],
    "IMPERATIVE": ["den", "arreglen\\w*", "cancelen\\w*", "devuelvan\\w*", "solucionen\\w*",
                   "resuelvan\\w*", "llamen\\w*", "manden\\w*", "envien\\w*", "quiten\\w*",
                   "anulen\\w*"],
    "HARM_IDIOMS": [
        "perjuicio\\w*", "perjudicad\\w*", "perdidas economicas", "lucro cesante",
        "comisiones? por descubierto", "danos y perjuicios",
        "danos? (?:[^ .!?\\n]+ ){0,3}(?:a|en) (?:mi|nuestr[oa]) (?:negocio|empresa|tienda"
        "|reputacion)", "cuenta (?:quedo |esta |ha quedado )?en (?:descubierto|numeros rojos)"],
    "CAUSE": ["causad\\w*", "causaron", "causo", "hecho", "ocasionad\\w*", "ocasionaron"],
    "DAMAGE": ["danos?"],
    "LOST": ["perdido", "perdimos", "perdi", "perder", "perdida de", "perdidas de"],
    "ASSETS": ["clientes?", "ventas", "dinero", "pedidos", "ingresos", "datos", "dia", "dias",
               "jornada", "semana", "contratos?", "reservas"],
    "COST": ["costado", "costo", "cuesta"],
    "PAYMENT": ["recibo", "alquiler", "pago", "domiciliacion", "cheque", "transferencia"],
    "BOUNCED": ["devuelt\\w*", "rechazad\\w*", "impagad\\w*"],
    "DIFFERENT": ["distintos", "distintas", "diferentes"],
    "TOLD": ["hablado", "hable", "explicado", "explique", "repetido", "contado", "pasado",
             "pasaron", "transferido", "transfirieron", "atendido", "atendieron"],
    "TIMES_VERB": ["explicado", "explique", "repetido", "contado", "llamado", "escrito",
                   "reclamado", "transferido", "pasado"],
    "TIMES": ["veces"],
    "AROUND_IDIOMS": [
        "(?:distintos|distintas|diferentes) (?:agentes|personas|departamentos|asesores)",
        "de un (?:departamento|lado|sitio|agente|area) (?:a|al|para) otro",
        "(?:me|nos) (?:pasan|pasaron|han pasado|transfieren|transfirieron|mandan|mandaron"
        "|pelotean|marean|torean) (?:de|entre|con)", "peloteo"],
    "PROMISED": ["prometieron", "prometio", "prometido", "prometieran", "aseguraron",
                 "garantizaron", "dijeron", "dijisteis", "prometisteis",
                 "asegurasteis", "garantizasteis", "me dijo"],
    "NEVER": ["nunca", "nada", "jamas", "sigo sin", "todavia no", "aun no"],
    "PROMISE_IDIOMS": ["{PROMISED} {G6}{FREE}[^?]{0,300}?{CHARGED}(?![^.!?\\n]*\\?)", "{CHARGED} [^?]{0,300}?{PROMISED} {G6}{FREE}(?![^.!?\\n]*\\?)", "promesas? (?:incumplidas?|vacias?|rotas?)"],
    "WITHOUT_WARNING": ["sin (?:ningun |previo |ningun tipo de )?(?:aviso|avisar|aviso previo"
                        "|previo aviso|avisarme|avisarnos|consultar|consultarme"
                        "|mi consentimiento|notificacion)"],
    "DURATION": ["(?:un|una|dos|tres|cuatro|cinco|#|varias|varios) (?:dias?|semanas?|mes"
                 "|meses)", "semanas", "meses"],
    "ELAPSED": ["hace {DURATION}", "{DURATION} despues",
                "(?:hoy es|ya es|estamos a)(?= (?:#|lunes|martes|miercoles|jueves|viernes"
                "|sabado|domingo))"],
    "AFTER": ["despues de que", "desde que"],
    "OR_ELSE": ["o", "si no", "sino", "de lo contrario"],
    "IF": ["si"],
    "LEAVE": ["cierro (?:mi|la|mis|las) cuentas?", "me llevo", "nos llevamos", "me cambio", "nos cambiamos", "me voy", "nos vamos", "me doy de baja",
              "nos damos de baja", "cancelo", "cancelamos", "me borro"],
    "ELSEWHERE": ["(?:la|con la|a la) competencia", "cambi\\w* de (?:compania|operador"
                  "|proveedor|banco)", "otra (?:compania|empresa|operadora)",
                  "otro (?:proveedor|banco|operador)"],
    "GO": ["vamos", "voy", "irnos", "irme", "pasamos", "paso", "llevo", "llevamos"],
    "ESCALATE": ["denunci\\w*", "reclamacion", "queja", "acudir\\w*", "ir", "voy", "acudo",
                 "escrib\\w*", "publica\\w*", "cont\\w*"],
    "AUTHORITY": ["consumo", "ocu", "facua", "oficina del consumidor", "defensa del consumidor",
                  "hoja de reclamaciones", "superintendencia", "profeco", "defensor del pueblo",
                  "prensa", "periodistas?", "medios", "redes sociales"],
    "NOT_OVER_IDIOMS": ["esto no (?:se va a quedar|se queda|va a quedar) asi",
                        "(?:^|(?<=[.!?\\n] ))(?:basta|ya basta|basta ya|se acabo)(?= [.!?])",
                        "(?:van|vais) a (?:saber de mi|arrepentirse|arrepentiros)",
                        "(?:una|#) (?:sola )?estrella(?= (?:en|por)\\b)",
                        "(?:que )?todo el mundo (?:sepa|se entere|va a saber|lo va a saber) (?:como|lo que)",
                        "lo va a saber todo el mundo", "a caer de un burro"],
    "CONTACT": ["vez", "correo", "mensaje", "email", "e mail", "llamada", "reclamo",
                "reclamacion", "ticket", "queja"],
    "ORDINAL": _ES_ORDINAL,
    "CONTACTS": ["correos", "llamadas", "tickets", "mensajes", "agentes", "tecnicos", "citas",
                 "visitas", "veces", "horas", "dias", "semanas", "meses", "reclamos"],
    "STILL_NOTHING": ["(?:sigo|seguimos) sin (?:nada|respuesta|noticias|solucion|tecnico)",
                      "todavia (?:nada|sin respuesta|no hay respuesta)", "aun (?:nada"
                      "|sin respuesta)",
                      "no (?:vino|ha venido|aparecio|ha aparecido|llamo|ha llamado|contesto) nadie",
                      "nadie (?:vino|ha venido|aparecio|me (?:llamo|ha llamado|contesto|ha contestado))",
                      "ni (?:una|un) (?:sola |solo )?(?:llamada|respuesta|aviso|correo|mensaje)"],
    "WAIT": ["esperando", "esperado", "esperamos", "espero"],
    "REPAY": ["(?:los|lo|la|las) (?:pagan|pagais|paguen|devuelven|devolvais|devuelvan)",
              "reembols\\w*", "devolucion", "devuelvan", "compens\\w*", "corren de su cuenta",
              "gastos"],
    "IN_FULL": ["integro", "integra", "integramente", "completos?", "completas?",
                "en su totalidad", "hasta el ultimo centimo"],
    "YOUR_FAULT": ["(?:por|debido a|a causa de) (?:su|sus|vuestro|vuestra|tu) (?:[^ .!?\\n]+ )?"
                   "(?:error|culpa|retraso|fallo|negligencia|incompetencia|averia)\\w*"],
}

PT: Slots = {
    # A delay refused and disbelief asked as a question (family "refusal").
    "REFUSED_DELAY": ["nao , (?:mais )?(?:uma|um|outra|outro) (?:semana|mes|dia|adiamento) nao"],
    "DISBELIEF": ["(?:^|(?<=[.!?\\n] ))(?:e )?serio que (?:eu|pra|para|voces|tenho|preciso|me)"],
    # A decision to leave, stated coldly: refusing offers, years of loyalty ended.
    "DECIDED": ["{REFUSED}", "{WENT_ELSEWHERE}", "(?:nao quero|nao queremos|sem) (?:nenhuma )?ofertas?", "nao (?:me|nos) liguem", "decisao (?:e |esta )?(?:definitiva|tomada)", "depois de (?:#|dois|tres|cinco|oito|dez|doze|quinze|vinte) anos (?:como cliente|com voces|de fidelidade)"],
    # Refusing to pay, and a move to a competitor told as done (issue 9).
    "REFUSED": ["nao (?:vou|vamos|pretendo|penso) pagar", "nao (?:pago|pagarei|pagaremos)", "(?:me|nos) recus\\w* a pagar", "nao (?:desejo|desejamos) (?:receber )?(?:nenhuma )?ofertas?"],
    "WENT_ELSEWHERE": ["(?:acabei de|acabamos de|ja) (?:contratar|contratei|contratamos|assinar|assinei|mudar|mudei) (?:com |para )?(?:a |uma )?(?:outra operadora|outra empresa|outro banco|outro fornecedor|concorrencia)", "(?:contratei|contratamos|assinei) (?:com )?(?:a |uma )?(?:outra operadora|outra empresa|outro banco|concorrencia)"],
    # Charged for what was promised free or at a fixed price.
    "FREE": ["gratis", "gratuit\\w*", "sem (?:custo|taxa|tarifa|cobranca)", "preco fixo", "tarifa fixa", "valor fixo"],
    "CHARGED": ["cobr\\w*", "fatur\\w*", "tarifa\\w*", "taxa\\w*", "aument\\w*", "ja veio", "veio r(?= #)", "de r(?= # (?:[^ .!?\\n]+ )?para)"],
    "NUM": ["dois", "duas", "tres", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez",
            "doze", "#", "varios", "varias", "diferentes"],
    "PEOPLE": ["pessoas", "atendentes", "agentes", "departamentos", "setores", "operadores",
               "operadoras", "funcionarios", "tecnicos", "areas", "consultores",
               "consultoras"],
    "OWED": ["solucao", "resposta", "explicacao", "reembolso", "estorno", "devolucao",
             "retorno", "data", "visita", "desculpas", "compensacao", "que", "por escrito"],
    "NOW": ["imediatamente", "de imediato", "agora mesmo", "sem demora", "sem mais demora",
            "ja ja"],
    "TODAY": ["{NOW}", "hoje mesmo", "o quanto antes", "o mais rapido possivel", "hoje",
              "agora", "ate amanha", "ainda hoje", "amanha"],
    "DEMAND": ["exijo", "exigimos", "insisto", "cobro", "cobramos"],
    "WANT": ["(?:quero|queremos|preciso|precisamos|espero|esperamos){SAYING}"],
    "SAYING": ["(?! (?:so |apenas |somente )?(?:dizer|agradecer|registrar|elogiar"
               "|parabenizar|deixar registrado|comentar|compartilhar|destacar)\\b)"],
    "IMPERATIVE": ["cancelem", "resolvam", "devolvam", "consertem", "liguem", "mandem",
                   "enviem", "tirem", "parem", "estornem", "arrumem"],
    "HARM_IDIOMS": [
        "prejuizo\\w*", "lucros cessantes", "perdas e danos", "danos morais",
        "danos materiais",
        "danos? (?:[^ .!?\\n]+ ){0,3}(?:a|ao|para|na|no) (?:minha|meu|nossa|nosso) (?:negocio"
        "|empresa|loja|reputacao)",
        "conta (?:ficou |esta |ficou no )?(?:negativa|a descoberto|no vermelho)"],
    "CAUSE": ["causou", "causaram", "causad\\w*", "trouxe", "trouxeram"],
    "DAMAGE": ["danos?"],
    "LOST": ["perdi", "perdemos", "perdido", "perder", "perda de", "perdas de"],
    "ASSETS": ["clientes?", "vendas", "dinheiro", "pedidos", "receita", "faturamento", "dados",
               "dia", "dias", "semana", "contratos?", "reservas"],
    "COST": ["custou", "custaram", "custando"],
    "PAYMENT": ["aluguel", "aluguer", "boleto", "pagamento", "cheque", "debito",
                "transferencia"],
    "BOUNCED": ["devolvid\\w*", "recusad\\w*", "voltou", "voltaram"],
    "DIFFERENT": ["diferentes", "distintos", "distintas"],
    "TOLD": ["falei", "falado", "expliquei", "explicado", "repeti", "contei", "passei",
             "passaram", "transferiram", "transferido", "atendido", "atenderam"],
    "TIMES_VERB": ["expliquei", "explicado", "repeti", "repetido", "contei", "liguei",
                   "ligado", "escrevi", "reclamei", "transferido", "transferida"],
    "TIMES": ["vezes"],
    "AROUND_IDIOMS": [
        "(?:diferentes|distintos|distintas) (?:pessoas|atendentes|agentes|departamentos"
        "|setores)", "de um (?:setor|departamento|lado|atendente|area) (?:para|pro|a) "
        "(?:o )?outro", "empurra empurra",
        "(?:me|nos) (?:jogam|jogaram|passam|passaram|transferem|transferiram) (?:de|entre"
        "|para la e para ca)", "passar a bola"],
    "PROMISED": ["prometeram", "prometeu", "prometido", "prometerem", "garantiram",
                 "garantiu", "disseram", "asseguraram", "me falaram",
                 "me disse"],
    "NEVER": ["nunca", "nada", "jamais", "ainda nao", "continua", "ate agora nao"],
    "PROMISE_IDIOMS": ["{PROMISED} {G6}{FREE}[^?]{0,300}?{CHARGED}(?![^.!?\\n]*\\?)", "{CHARGED} [^?]{0,300}?{PROMISED} {G6}{FREE}(?![^.!?\\n]*\\?)", "promessas? (?:nao cumpridas?|vazias?|quebradas?)"],
    "WITHOUT_WARNING": ["sem (?:nenhum |qualquer |previo |nenhuma )?(?:aviso|avisar"
                        "|aviso previo|previo aviso|me avisar|nos avisar|consultar"
                        "|meu consentimento|notificacao|comunicacao)"],
    "DURATION": ["(?:um|uma|dois|duas|tres|quatro|cinco|#|varias|varios) (?:dias?|semanas?"
                 "|mes|meses)", "semanas", "meses"],
    "ELAPSED": ["(?:ha|faz) {DURATION}", "{DURATION} depois",
                "(?:hoje e|hoje ja e|ja e|estamos a)(?= (?:dia #|#|segunda|terca|quarta|quinta"
                "|sexta|sabado|domingo))"],
    "AFTER": ["depois de", "desde que"],
    "OR_ELSE": ["ou", "senao", "se nao", "caso contrario"],
    "IF": ["se", "caso"],
    "LEAVE": ["encerr\\w* (?:a |as )?(?:minhas? )?contas?", "fecho (?:a |minha )?conta", "mudo", "mudamos", "cancelo", "cancelamos", "saio", "saimos", "troco",
              "trocamos", "vou embora", "vamos embora"],
    "ELSEWHERE": ["(?:a|para a|pra) concorrencia", "mud\\w* de (?:operadora|empresa|banco"
                  "|fornecedor)", "outra (?:operadora|empresa)", "outro (?:banco|fornecedor)"],
    "GO": ["vamos", "vou", "mudo", "mudamos", "mudar", "passar", "passamos", "ir"],
    "ESCALATE": ["denunci\\w*", "reclamacao", "reclamar", "abr\\w*", "registr\\w*", "ir",
                 "vou", "expo\\w*", "post\\w*", "acion\\w*"],
    "AUTHORITY": ["procon", "reclame aqui", "anatel", "aneel", "anac", "banco central",
                  "consumidor gov", "deco", "livro de reclamacoes", "portal da queixa",
                  "ouvidoria", "imprensa", "jornalistas?", "midia", "redes sociais"],
    "NOT_OVER_IDIOMS": ["isso nao vai ficar assim",
                        "(?:^|(?<=[.!?\\n] ))(?:chega|ja chega|basta)(?= [.!?])", "nao vai ficar (?:por isso|barato)",
                        "(?:voces )?vao se arrepender",
                        "(?:uma|#) (?:so )?estrela(?= (?:no|na|em)\\b)",
                        "(?:toda a gente|todo mundo|todos) (?:vai|vao) saber (?:como|o que)",
                        "(?:vai|vou) (?:para|pra|levar isto (?:para|a)) (?:a )?(?:comunicacao social|imprensa)",
                        "minha opiniao em (?:todo o lado|toda parte|todo lugar)"],
    "CONTACT": ["vez", "email", "e mail", "contato", "chamado", "protocolo", "ligacao",
                "reclamacao", "mensagem"],
    "ORDINAL": _PT_ORDINAL,
    "CONTACTS": ["emails", "e mails", "ligacoes", "chamados", "protocolos", "mensagens",
                 "atendentes", "tecnicos", "visitas", "vezes", "horas", "dias", "semanas",
                 "meses"],
    "STILL_NOTHING": ["(?:continuo|continuamos|sigo|estou|ainda) sem (?:nada|resposta|retorno"
                      "|solucao|noticias|tecnico)", "ate (?:agora|hoje) (?:nada"
                      "|nenhuma resposta)",
                      "ninguem (?:apareceu|aparece|veio|vem|ligou|liga|respondeu|responde)",
                      "nao (?:apareceu|veio|ligou) ninguem", "em nenhuma das datas",
                      "nem (?:uma |um )?(?:ligacao|resposta|aviso|telefonema)",
                      "nem recebi (?:qualquer|nenhum) (?:aviso|contacto|contato)"],
    "WAIT": ["esperando", "esperei", "aguardando", "aguardei"],
    "REPAY": ["reembols\\w*", "estorn\\w*", "devolv\\w*", "responsabilidade (?:vossa|sua|de voces)",
              "custos sao (?:vossos|seus|de voces)", "pag\\w*", "compens\\w*"],
    "IN_FULL": ["integral", "integralmente", "na totalidade", "total", "completo",
                "ate o ultimo centavo"],
    "YOUR_FAULT": ["(?:por|devido a|por causa d[oa]) (?:vosso|vossa|seu|sua|do seu|da sua"
                   "|do vosso|da vossa) (?:[^ .!?\\n]+ )?(?:erro|culpa|atraso|falha|negligencia"
                   "|incompetencia)", "por (?:erro|culpa|falha) (?:vossa|vosso|sua|seu)"],
}
