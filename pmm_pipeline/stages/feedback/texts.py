"""The words of a member's feedback report in English, French and Spanish: headings, and per problem what to do.

A problem code without an entry here (e.g. a quality rule added later) is shown with a generic
title and the detailed message; adding a code is one entry per language.
"""

HEADINGS: dict[str, dict[str, str]] = {
    "en": {
        "sheet_summary": "Summary",
        "sheet_problems": "Problems",
        "sheet_files": "Files received",
        "title": "PMM validation report",
        "member": "Member",
        "cycle": "Cycle",
        "generated": "Produced on",
        "intro": "This report lists every problem found in what you sent for this cycle. Problems marked"
        " 'Blocking' keep a file or your answers out of the results until you send a corrected file;"
        " 'Warning' asks you to confirm or explain a figure (a comment in the questionnaire is enough).",
        "n_blocking": "Blocking problems",
        "n_warning": "Warnings",
        "severity": "Severity",
        "file": "File",
        "where": "Where in the file",
        "item": "Item",
        "question": "Question",
        "year": "Year",
        "value": "Value",
        "rule": "Problem",
        "what_to_do": "What to do",
        "details": "Details",
        "your_comment": "Your comment",
        "received_at": "Received (UTC)",
        "outcome": "Outcome",
        "reason": "Reason",
        "blocking": "Blocking",
        "warning": "Warning",
        "accepted": "Accepted (version {version})",
        "accepted_latest": "Accepted (version {version}, in use)",
        "rejected": "Rejected",
        "duplicate": "Duplicate, not read again",
        "sheet_cell": "sheet {sheet}, cell {cell}",
        "line": "line {line}",
        "whole_file": "whole file",
        "generic_title": "Problem ({code})",
        "generic_action": "Read the details and correct the file.",
        "quality_title": "Quality check: {code}",
        "quality_action": "Check the figure; correct it, or explain it in the Comment column of the questionnaire.",
    },
    "fr": {
        "sheet_summary": "Résumé",
        "sheet_problems": "Problèmes",
        "sheet_files": "Fichiers reçus",
        "title": "Rapport de validation MMP",
        "member": "Membre",
        "cycle": "Cycle",
        "generated": "Établi le",
        "intro": "Ce rapport énumère chaque problème trouvé dans ce que vous avez envoyé pour ce cycle. Les"
        " problèmes « Bloquant » écartent un fichier ou vos réponses des résultats jusqu'à l'envoi d'un fichier"
        " corrigé ; « Avertissement » vous demande de confirmer ou d'expliquer un chiffre (un commentaire dans le"
        " questionnaire suffit).",
        "n_blocking": "Problèmes bloquants",
        "n_warning": "Avertissements",
        "severity": "Gravité",
        "file": "Fichier",
        "where": "Emplacement dans le fichier",
        "item": "Élément",
        "question": "Question",
        "year": "Année",
        "value": "Valeur",
        "rule": "Problème",
        "what_to_do": "Que faire",
        "details": "Détails (en anglais)",
        "your_comment": "Votre commentaire",
        "received_at": "Reçu (UTC)",
        "outcome": "Résultat",
        "reason": "Motif",
        "blocking": "Bloquant",
        "warning": "Avertissement",
        "accepted": "Accepté (version {version})",
        "accepted_latest": "Accepté (version {version}, utilisée)",
        "rejected": "Rejeté",
        "duplicate": "Doublon, non relu",
        "sheet_cell": "feuille {sheet}, cellule {cell}",
        "line": "ligne {line}",
        "whole_file": "fichier entier",
        "generic_title": "Problème ({code})",
        "generic_action": "Lisez les détails et corrigez le fichier.",
        "quality_title": "Contrôle de qualité : {code}",
        "quality_action": "Vérifiez le chiffre ; corrigez-le ou"
        " expliquez-le dans la colonne Commentaire du questionnaire.",
    },
    "es": {
        "sheet_summary": "Resumen",
        "sheet_problems": "Problemas",
        "sheet_files": "Archivos recibidos",
        "title": "Informe de validación del MMD",
        "member": "Miembro",
        "cycle": "Ciclo",
        "generated": "Elaborado el",
        "intro": "Este informe enumera cada problema encontrado en lo que envió para este ciclo. Los problemas"
        " «Bloqueante» excluyen un archivo o sus respuestas de los resultados hasta que envíe un archivo"
        " corregido; «Advertencia» le pide confirmar o explicar una cifra (basta un comentario en el cuestionario).",
        "n_blocking": "Problemas bloqueantes",
        "n_warning": "Advertencias",
        "severity": "Gravedad",
        "file": "Archivo",
        "where": "Lugar en el archivo",
        "item": "Elemento",
        "question": "Pregunta",
        "year": "Año",
        "value": "Valor",
        "rule": "Problema",
        "what_to_do": "Qué hacer",
        "details": "Detalles (en inglés)",
        "your_comment": "Su comentario",
        "received_at": "Recibido (UTC)",
        "outcome": "Resultado",
        "reason": "Motivo",
        "blocking": "Bloqueante",
        "warning": "Advertencia",
        "accepted": "Aceptado (versión {version})",
        "accepted_latest": "Aceptado (versión {version}, en uso)",
        "rejected": "Rechazado",
        "duplicate": "Duplicado, no se volvió a leer",
        "sheet_cell": "hoja {sheet}, celda {cell}",
        "line": "línea {line}",
        "whole_file": "archivo completo",
        "generic_title": "Problema ({code})",
        "generic_action": "Lea los detalles y corrija el archivo.",
        "quality_title": "Control de calidad: {code}",
        "quality_action": "Verifique la cifra; corríjala o explíquela en la columna Comentario del cuestionario.",
    },
}

# code -> language -> (title, what to do)
PROBLEMS: dict[str, dict[str, tuple[str, str]]] = {
    "empty_file": {
        "en": ("Empty file", "Send the file again; it arrived with no content."),
        "fr": ("Fichier vide", "Renvoyez le fichier ; il est arrivé sans contenu."),
        "es": ("Archivo vacío", "Envíe de nuevo el archivo; llegó sin contenido."),
    },
    "file_too_large": {
        "en": ("File too large", "Send only the questionnaire, without extra sheets, images or data."),
        "fr": ("Fichier trop volumineux", "N'envoyez que le questionnaire, sans feuilles, images ni données en plus."),
        "es": ("Archivo demasiado grande", "Envíe solo el cuestionario, sin hojas, imágenes ni datos adicionales."),
    },
    "unsupported_format": {
        "en": ("File type not accepted", "Send the questionnaire as .xlsx, or a .csv or .json export."),
        "fr": ("Type de fichier non accepté", "Envoyez le questionnaire au format .xlsx, ou un export .csv ou .json."),
        "es": (
            "Tipo de archivo no aceptado",
            "Envíe el cuestionario en formato .xlsx, o una exportación .csv o .json.",
        ),
    },
    "bad_file_name": {
        "en": ("File name not accepted", "Rename the file with letters, digits, '_' and '-' only, and send it again."),
        "fr": (
            "Nom de fichier non accepté",
            "Renommez le fichier avec des lettres, chiffres, « _ » et « - » seulement, puis renvoyez-le.",
        ),
        "es": (
            "Nombre de archivo no aceptado",
            "Cambie el nombre del archivo usando solo letras, cifras, «_» y «-», y envíelo de nuevo.",
        ),
    },
    "not_a_regular_file": {
        "en": ("Not a file", "Deliver the file itself, not a link or a folder."),
        "fr": ("Pas un fichier", "Déposez le fichier lui-même, pas un lien ni un dossier."),
        "es": ("No es un archivo", "Entregue el archivo mismo, no un enlace ni una carpeta."),
    },
    "duplicate_file": {
        "en": ("Same file sent twice", "Nothing to do: the first copy is used."),
        "fr": ("Même fichier envoyé deux fois", "Rien à faire : la première copie est utilisée."),
        "es": ("Mismo archivo enviado dos veces", "Nada que hacer: se usa la primera copia."),
    },
    "member_mismatch": {
        "en": (
            "File name and content name different members",
            "Check that you sent your own questionnaire; rename the file or use the questionnaire issued to you.",
        ),
        "fr": (
            "Le nom et le contenu du fichier désignent des Membres différents",
            "Vérifiez que vous avez envoyé votre propre questionnaire ; renommez le fichier ou utilisez celui qui"
            " vous a été remis.",
        ),
        "es": (
            "El nombre y el contenido del archivo indican Miembros distintos",
            "Compruebe que envió su propio cuestionario; cambie el nombre del archivo o use el que se le entregó.",
        ),
    },
    "cycle_mismatch": {
        "en": ("Questionnaire of another cycle", "Fill in the questionnaire of this cycle and send it again."),
        "fr": ("Questionnaire d'un autre cycle", "Remplissez le questionnaire de ce cycle et renvoyez-le."),
        "es": ("Cuestionario de otro ciclo", "Complete el cuestionario de este ciclo y envíelo de nuevo."),
    },
    "outdated_template": {
        "en": (
            "Outdated questionnaire",
            "Copy your answers into the questionnaire issued for this cycle now and send it again.",
        ),
        "fr": (
            "Questionnaire périmé",
            "Recopiez vos réponses dans le questionnaire actuel de ce cycle et renvoyez-le.",
        ),
        "es": (
            "Cuestionario desactualizado",
            "Copie sus respuestas en el cuestionario vigente de este ciclo y envíelo de nuevo.",
        ),
    },
    "template_modified": {
        "en": (
            "Questionnaire structure changed",
            "Do not rename sheets or edit the grey cells; fill in a fresh copy of your questionnaire.",
        ),
        "fr": (
            "Structure du questionnaire modifiée",
            "Ne renommez pas les feuilles et ne modifiez pas les cellules grises ; remplissez une copie neuve du"
            " questionnaire.",
        ),
        "es": (
            "Estructura del cuestionario modificada",
            "No cambie el nombre de las hojas ni las celdas grises; complete una copia nueva del cuestionario.",
        ),
    },
    "not_a_questionnaire": {
        "en": ("Not a PMM questionnaire", "Use the questionnaire issued by the Secretariat."),
        "fr": ("Pas un questionnaire MMP", "Utilisez le questionnaire remis par le Secrétariat."),
        "es": ("No es un cuestionario del MMD", "Use el cuestionario entregado por la Secretaría."),
    },
    "macro_enabled": {
        "en": ("Workbook with macros", "Save the workbook as 'Excel Workbook (.xlsx)' and send it again."),
        "fr": ("Classeur avec macros", "Enregistrez le classeur au format « Classeur Excel (.xlsx) » et renvoyez-le."),
        "es": ("Libro con macros", "Guarde el libro como «Libro de Excel (.xlsx)» y envíelo de nuevo."),
    },
    "encrypted_workbook": {
        "en": (
            "Workbook protected by a password",
            "Remove the password (File > Info > Protect workbook) and send it again.",
        ),
        "fr": (
            "Classeur protégé par mot de passe",
            "Supprimez le mot de passe (Fichier > Informations > Protéger le classeur) et renvoyez-le.",
        ),
        "es": (
            "Libro protegido con contraseña",
            "Quite la contraseña (Archivo > Información > Proteger libro) y envíelo de nuevo.",
        ),
    },
    "external_links": {
        "en": (
            "Links to other workbooks",
            "Replace the links by their values (Data > Edit links > Break link) and send it again.",
        ),
        "fr": (
            "Liens vers d'autres classeurs",
            "Remplacez les liens par leurs valeurs (Données > Modifier les liens > Rompre le lien) et renvoyez-le.",
        ),
        "es": (
            "Vínculos a otros libros",
            "Reemplace los vínculos por sus valores (Datos > Editar vínculos > Romper vínculo) y envíelo de nuevo.",
        ),
    },
    "formula_without_value": {
        "en": (
            "Formula without a result",
            "Type the figure instead of the formula, or open and save the file in Excel.",
        ),
        "fr": (
            "Formule sans résultat",
            "Saisissez le chiffre au lieu de la formule, ou ouvrez et enregistrez le fichier dans Excel.",
        ),
        "es": (
            "Fórmula sin resultado",
            "Escriba la cifra en lugar de la fórmula, o abra y guarde el archivo en Excel.",
        ),
    },
    "not_a_number": {
        "en": ("Not a number", "Type the figure as a number, without units or text."),
        "fr": ("Pas un nombre", "Saisissez le chiffre comme un nombre, sans unité ni texte."),
        "es": ("No es un número", "Escriba la cifra como un número, sin unidades ni texto."),
    },
    "ambiguous_number": {
        "en": ("Number that can be read two ways", "Type the figure without thousands separators (e.g. 1234 or 1.5)."),
        "fr": (
            "Nombre lisible de deux façons",
            "Saisissez le chiffre sans séparateur de milliers (p. ex. 1234 ou 1,5).",
        ),
        "es": (
            "Número que puede leerse de dos maneras",
            "Escriba la cifra sin separador de miles (p. ej. 1234 o 1,5).",
        ),
    },
    "unknown_level": {
        "en": ("Answer not in the list", "Choose one of the answers offered in the list."),
        "fr": ("Réponse hors liste", "Choisissez l'une des réponses proposées dans la liste."),
        "es": ("Respuesta fuera de la lista", "Elija una de las respuestas de la lista."),
    },
    "bad_status": {
        "en": ("Unknown status", "Choose Reported, Not applicable or Not available."),
        "fr": ("Statut inconnu", "Choisissez Déclaré, Sans objet ou Non disponible."),
        "es": ("Estado desconocido", "Elija Declarado, No aplicable o No disponible."),
    },
    "conflicting_status": {
        "en": (
            "Value given with 'not applicable' or 'not available'",
            "Either delete the value or set the status to Reported.",
        ),
        "fr": (
            "Valeur donnée avec « sans objet » ou « non disponible »",
            "Supprimez la valeur ou mettez le statut à Déclaré.",
        ),
        "es": ("Valor dado con «no aplicable» o «no disponible»", "Borre el valor o ponga el estado en Declarado."),
    },
    "missing_value": {
        "en": ("Answer without a value", "Give the figure, or choose Not applicable or Not available as status."),
        "fr": ("Réponse sans valeur", "Donnez le chiffre, ou choisissez Sans objet ou Non disponible comme statut."),
        "es": ("Respuesta sin valor", "Indique la cifra, o elija No aplicable o No disponible como estado."),
    },
    "unknown_item": {
        "en": ("Unknown item code", "Do not change item codes; use the questionnaire of this cycle."),
        "fr": (
            "Code d'élément inconnu",
            "Ne modifiez pas les codes d'élément ; utilisez le questionnaire de ce cycle.",
        ),
        "es": (
            "Código de elemento desconocido",
            "No modifique los códigos de elemento; use el cuestionario de este ciclo.",
        ),
    },
    "year_out_of_range": {
        "en": ("Year not asked in this cycle", "Give figures for the years shown in the questionnaire only."),
        "fr": (
            "Année non demandée dans ce cycle",
            "Ne donnez des chiffres que pour les années indiquées dans le questionnaire.",
        ),
        "es": ("Año no solicitado en este ciclo", "Indique cifras solo para los años que muestra el cuestionario."),
    },
    "duplicate_answer": {
        "en": ("Item answered twice", "Keep one answer per item and year."),
        "fr": ("Élément renseigné deux fois", "Gardez une seule réponse par élément et par année."),
        "es": ("Elemento respondido dos veces", "Deje una sola respuesta por elemento y año."),
    },
    "bad_disclosure": {
        "en": ("Unknown disclosure choice", "Choose Public, WCO Members or Secretariat only."),
        "fr": ("Choix de diffusion inconnu", "Choisissez Public, Membres de l'OMD ou Secrétariat seulement."),
        "es": ("Opción de divulgación desconocida", "Elija Público, Miembros de la OMA o Solo la Secretaría."),
    },
    "known_codes": {
        "en": ("Unknown code", "Use the codes and answers offered in the questionnaire."),
        "fr": ("Code inconnu", "Utilisez les codes et réponses proposés dans le questionnaire."),
        "es": ("Código desconocido", "Use los códigos y respuestas del cuestionario."),
    },
    "values_match_item_type": {
        "en": ("Value of the wrong kind", "Counts are whole numbers; level questions take one answer from the list."),
        "fr": (
            "Valeur d'un type inattendu",
            "Les effectifs sont des nombres entiers ; les questions à niveaux prennent une réponse de la liste.",
        ),
        "es": (
            "Valor de un tipo inesperado",
            "Los recuentos son números enteros; las preguntas de nivel llevan una respuesta de la lista.",
        ),
    },
    "values_within_range": {
        "en": ("Value outside the accepted range", "Check the figure and its unit (e.g. units, not thousands)."),
        "fr": (
            "Valeur hors de l'intervalle accepté",
            "Vérifiez le chiffre et son unité (p. ex. unités et non milliers).",
        ),
        "es": ("Valor fuera del intervalo aceptado", "Verifique la cifra y su unidad (p. ej. unidades y no miles)."),
    },
    "part_not_above_whole": {
        "en": ("A part is larger than its total", "Check both figures: a part cannot exceed the total it belongs to."),
        "fr": ("Une partie dépasse son total", "Vérifiez les deux chiffres : une partie ne peut dépasser son total."),
        "es": ("Una parte supera su total", "Verifique ambas cifras: una parte no puede superar su total."),
    },
    "required_items_present": {
        "en": ("Answer missing", "Give the figure, or say it is Not applicable or Not available."),
        "fr": ("Réponse manquante", "Donnez le chiffre, ou indiquez Sans objet ou Non disponible."),
        "es": ("Falta una respuesta", "Indique la cifra, o marque No aplicable o No disponible."),
    },
    "variation_years_present": {
        "en": ("Previous year missing", "Give the figure for the previous year (T-1) too."),
        "fr": ("Année précédente manquante", "Donnez aussi le chiffre de l'année précédente (T-1)."),
        "es": ("Falta el año anterior", "Indique también la cifra del año anterior (T-1)."),
    },
    "yoy_change_within_band": {
        "en": (
            "Large change from the previous year",
            "Confirm the figure, or explain the change in the Comment column.",
        ),
        "fr": (
            "Forte variation par rapport à l'année précédente",
            "Confirmez le chiffre ou expliquez la variation dans la colonne Commentaire.",
        ),
        "es": (
            "Gran variación respecto del año anterior",
            "Confirme la cifra o explique la variación en la columna Comentario.",
        ),
    },
    "t_minus_1_matches_earlier_cycle": {
        "en": (
            "Previous year differs from your earlier report",
            "Confirm it is a revision and say why in the Comment column.",
        ),
        "fr": (
            "L'année précédente diffère de votre déclaration antérieure",
            "Confirmez qu'il s'agit d'une révision et expliquez-la dans la colonne Commentaire.",
        ),
        "es": (
            "El año anterior difiere de su informe previo",
            "Confirme que es una revisión y explíquela en la columna Comentario.",
        ),
    },
    "value_near_peer_median": {
        "en": (
            "Far from comparable administrations",
            "Check the figures behind it; explain in the Comment column if they are right.",
        ),
        "fr": (
            "Éloigné des administrations comparables",
            "Vérifiez les chiffres en cause ; expliquez-les dans la colonne Commentaire s'ils sont exacts.",
        ),
        "es": (
            "Lejos de administraciones comparables",
            "Verifique las cifras; explíquelas en la columna Comentario si son correctas.",
        ),
    },
    "magnitude_consistent_with_history": {
        "en": (
            "Very different from your earlier figures",
            "Check the unit (units, thousands, millions) and correct or explain.",
        ),
        "fr": (
            "Très différent de vos chiffres antérieurs",
            "Vérifiez l'unité (unités, milliers, millions) et corrigez ou expliquez.",
        ),
        "es": (
            "Muy distinto de sus cifras anteriores",
            "Verifique la unidad (unidades, miles, millones) y corrija o explique.",
        ),
    },
}
PROBLEMS["unreadable_file"] = {
    "en": (
        "File cannot be read safely",
        "Open the file in Excel, save it again as .xlsx (or export the CSV again) and send it.",
    ),
    "fr": (
        "Fichier illisible en toute sécurité",
        "Ouvrez le fichier dans Excel, enregistrez-le de nouveau en .xlsx (ou réexportez le CSV) et renvoyez-le.",
    ),
    "es": (
        "Archivo que no puede leerse con seguridad",
        "Abra el archivo en Excel, guárdelo de nuevo como .xlsx (o exporte otra vez el CSV) y envíelo.",
    ),
}
PROBLEMS["missing_column"] = {
    "en": (
        "Columns missing from the export",
        "Export again with the columns member, cycle, submitted_at, item, year, value.",
    ),
    "fr": (
        "Colonnes absentes de l'export",
        "Réexportez avec les colonnes member, cycle, submitted_at, item, year, value.",
    ),
    "es": (
        "Faltan columnas en la exportación",
        "Exporte de nuevo con las columnas member, cycle, submitted_at, item, year, value.",
    ),
}
PROBLEMS["bad_timestamp"] = {
    "en": ("Date of submission not readable", "Give the date of submission on the cover sheet as a date (YYYY-MM-DD)."),
    "fr": ("Date d'envoi illisible", "Indiquez la date d'envoi sur la couverture sous forme de date (AAAA-MM-JJ)."),
    "es": ("Fecha de envío ilegible", "Indique la fecha de envío en la portada como fecha (AAAA-MM-DD)."),
}
PROBLEMS["unknown_member"] = {
    "en": (
        "Member code not recognized",
        "Put your administration's code (ISO 3166 alpha-3, e.g. KEN) in the member field.",
    ),
    "fr": (
        "Code de Membre non reconnu",
        "Indiquez le code de votre administration (ISO 3166 alpha-3, p. ex. SEN) dans le champ member.",
    ),
    "es": (
        "Código de Miembro no reconocido",
        "Indique el código de su administración (ISO 3166 alfa-3, p. ej. ARG) en el campo member.",
    ),
}
PROBLEMS["member_not_in_cycle"] = {
    "en": ("Member not taking part in this cycle", "Contact the WCO Secretariat."),
    "fr": ("Membre ne participant pas à ce cycle", "Contactez le Secrétariat de l'OMD."),
    "es": ("Miembro que no participa en este ciclo", "Póngase en contacto con la Secretaría de la OMA."),
}
# Codes that need the same words as another one.
for _code in (
    "corrupt_workbook",
    "zip_bomb",
    "xml_entities",
    "too_many_sheets",
    "too_many_rows",
    "too_many_columns",
    "bad_encoding",
    "not_json",
    "bad_structure",
    "inconsistent_rows",
    "missing_field",
    "unknown_field",
    "wrong_format",
    "unsupported_format_version",
):
    PROBLEMS[_code] = PROBLEMS["unreadable_file"]
for _code, _same in (("unknown_kpi", "bad_disclosure"), ("one_answer_per_item_year", "duplicate_answer")):
    PROBLEMS[_code] = PROBLEMS[_same]

# The intake's own failures and the state of a version's archived copy (issue 16, part B).
PROBLEMS["intake_failed"] = {
    "en": (
        "File not taken in yet",
        "Nothing to do: the file is tried again on the next run. If this stays, contact the WCO Secretariat.",
    ),
    "fr": (
        "Fichier pas encore pris en compte",
        "Rien à faire : le fichier sera repris au prochain traitement. Si cela persiste, contactez le Secrétariat"
        " de l'OMD.",
    ),
    "es": (
        "Archivo aún no incorporado",
        "Nada que hacer: el archivo se volverá a procesar en la próxima ejecución. Si persiste, póngase en contacto"
        " con la Secretaría de la OMA.",
    ),
}
PROBLEMS["archive_corrupt"] = {
    "en": ("Stored copy of your file damaged", "Send the same file again; until then this version is not used."),
    "fr": (
        "Copie conservée de votre fichier endommagée",
        "Renvoyez le même fichier ; d'ici là, cette version n'est pas utilisée.",
    ),
    "es": (
        "Copia conservada de su archivo dañada",
        "Envíe de nuevo el mismo archivo; hasta entonces esta versión no se usa.",
    ),
}
PROBLEMS["archive_missing"] = {
    "en": ("Stored copy of your file missing", "Send the same file again; until then this version is not used."),
    "fr": (
        "Copie conservée de votre fichier introuvable",
        "Renvoyez le même fichier ; d'ici là, cette version n'est pas utilisée.",
    ),
    "es": (
        "Copia conservada de su archivo no encontrada",
        "Envíe de nuevo el mismo archivo; hasta entonces esta versión no se usa.",
    ),
}
for _lang, _words in {
    "en": {"archive_corrupt": "Stored copy damaged, not used", "archive_missing": "Stored copy missing, not used"},
    "fr": {
        "archive_corrupt": "Copie conservée endommagée, non utilisée",
        "archive_missing": "Copie conservée introuvable, non utilisée",
    },
    "es": {
        "archive_corrupt": "Copia conservada dañada, no se usa",
        "archive_missing": "Copia conservada no encontrada, no se usa",
    },
}.items():
    HEADINGS[_lang].update(_words)

# The member platform's own reasons (stages/ingestion/arrivals.py): only a file sent through the platform gets them.
PROBLEMS["cycle_closed"] = {
    "en": (
        "Cycle not taking submissions now",
        "The collection of this cycle is closed. Contact the WCO Secretariat if your file must still be used.",
    ),
    "fr": (
        "Le cycle ne reçoit pas de soumissions actuellement",
        "La collecte de ce cycle est close. Contactez le Secrétariat de l'OMD si votre fichier doit encore être"
        " utilisé.",
    ),
    "es": (
        "El ciclo no recibe envíos en este momento",
        "La recogida de datos de este ciclo está cerrada. Póngase en contacto con la Secretaría de la OMA si su"
        " archivo aún debe utilizarse.",
    ),
}
PROBLEMS["wrong_member"] = {
    "en": (
        "Questionnaire of another member",
        "Your account sends for your own administration only: send your own questionnaire (download it here).",
    ),
    "fr": (
        "Questionnaire d'un autre Membre",
        "Votre compte n'envoie que pour votre propre administration : envoyez votre propre questionnaire"
        " (téléchargez-le ici).",
    ),
    "es": (
        "Cuestionario de otro Miembro",
        "Su cuenta solo envía para su propia administración: envíe su propio cuestionario (descárguelo aquí).",
    ),
}
