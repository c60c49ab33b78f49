"""Romance languages for the synthetic request generator: Spanish, Brazilian Portuguese, French, Italian, Catalan.

Hand-written pools and per-label templates (the project's own text), phrased the way people actually type
requests to a chat assistant in each language: mixed registers, with and without greetings, some typos.
"""

from __future__ import annotations

from triage.train.i18n.base import Lang

# ---------------------------------------------------------------------------------------------------------------
# Spanish
# ---------------------------------------------------------------------------------------------------------------

_ES_POOLS: dict[str, tuple[str, ...]] = {
    "topic": (
        "el teletrabajo",
        "la alimentación saludable",
        "el cambio climático",
        "la inteligencia artificial",
        "el ahorro doméstico",
        "las redes sociales",
        "el turismo rural",
        "la salud mental",
        "el reciclaje",
        "la educación a distancia",
    ),
    "name": ("Lucía", "Javier", "María", "Carlos", "Sofía", "Alejandro", "Carmen", "Diego", "Valentina", "Pablo"),
    "city": (
        "Madrid",
        "Barcelona",
        "Sevilla",
        "Valencia",
        "Bilbao",
        "Ciudad de México",
        "Buenos Aires",
        "Bogotá",
        "Lima",
        "Santiago de Chile",
    ),
    "thing": (
        "una cafetera",
        "mi bicicleta",
        "un portátil",
        "unos auriculares inalámbricos",
        "una freidora de aire",
        "un robot aspirador",
        "mi móvil",
        "una lavadora",
        "una silla de oficina",
        "un reloj inteligente",
    ),
    "audience": (
        "mi abuela",
        "un niño de cinco años",
        "los empleados nuevos",
        "mis alumnos de secundaria",
        "un cliente enfadado",
        "mi jefe",
        "un grupo de jubilados",
        "personas sin conocimientos técnicos",
    ),
    "tone": (
        "formal",
        "más cercano",
        "más persuasivo",
        "neutro",
        "más amable",
        "profesional",
        "divertido",
        "más directo",
    ),
    "form": (
        "un poema",
        "un cuento corto",
        "una canción",
        "un soneto",
        "un haiku",
        "un microrrelato",
        "una fábula",
        "un rap",
        "una carta",
    ),
    "concept": (
        "la inflación",
        "la fotosíntesis",
        "un agujero negro",
        "el blockchain",
        "la relatividad",
        "el efecto invernadero",
        "la democracia",
        "el sistema inmunitario",
        "el tipo de interés",
        "el aprendizaje automático",
    ),
    "code_task": (
        "invierta una cadena",
        "lea un archivo CSV y sume una columna",
        "compruebe si un número es primo",
        "ordene una lista de diccionarios por fecha",
        "descargue una página web y cuente las palabras",
        "valide una dirección de correo",
        "elimine los duplicados de una lista",
        "calcule el factorial de un número",
    ),
    "passage": (
        (
            "El Ayuntamiento de Valencia anunció ayer que a partir del 1 de marzo el autobús será gratuito para los "
            "menores de 18 años. La medida costará unos 4,5 millones de euros al año y se financiará con fondos "
            "europeos. Según la concejala de Movilidad, Ana Ruiz, se espera que el uso del transporte público aumente "
            "un 12 %. La oposición critica que no se haya consultado a los vecinos."
        ),
        (
            "Hola, equipo: os escribo para confirmar que la reunión con el cliente de Sevilla se traslada al jueves 14 "
            "a las 10:30. Marta preparará la presentación y Jorge se encargará de enviar el presupuesto actualizado "
            "antes del miércoles. Por favor, revisad el contrato antes de la reunión y mandadme vuestras dudas. "
            "Un saludo, Raúl."
        ),
        (
            "Acta de la reunión del 3 de octubre. Asistentes: Laura Gómez, Pedro Sanz y Elena Martín. Se acordó "
            "retrasar el lanzamiento de la nueva web hasta noviembre por problemas con el proveedor de pagos. Pedro "
            "revisará las pruebas de carga y Elena contactará con el proveedor antes del viernes. La próxima reunión "
            "será el 10 de octubre."
        ),
        (
            "Compré esta freidora de aire hace dos meses por 89 euros y estoy bastante contento. Cocina rápido y las "
            "patatas quedan crujientes sin casi aceite. Lo peor es que hace bastante ruido y la cesta se queda pequeña "
            "para una familia de cuatro. El servicio de atención al cliente respondió enseguida cuando tuve una duda. "
            "Por ese precio, la recomiendo."
        ),
        (
            "Las ventas del segundo trimestre crecieron un 8 % respecto al mismo periodo del año anterior, hasta "
            "alcanzar los 2,3 millones de euros. El crecimiento se debió sobre todo a la tienda online, que ya "
            "representa el 40 % de la facturación. Sin embargo, los costes logísticos subieron un 15 %. La dirección "
            "propone renegociar los contratos con las empresas de transporte."
        ),
        (
            "Un equipo de investigadores de la Universidad de Granada ha descubierto una nueva especie de escarabajo "
            "en Sierra Nevada. El insecto, de apenas cinco milímetros, vive a más de 2.500 metros de altitud. Los "
            "científicos creen que el cambio climático podría amenazar su hábitat en las próximas décadas. El hallazgo "
            "se ha publicado en una revista internacional de entomología."
        ),
        (
            "Estimados señores: el pasado 22 de enero realicé un pedido (número 45872) que todavía no he recibido. He "
            "llamado tres veces al servicio de atención al cliente sin obtener respuesta. Les ruego que me devuelvan "
            "el importe de 64,90 euros o que me envíen el producto esta misma semana. Atentamente, Carmen López."
        ),
    ),
    "sentence": (
        "Mañana tengo una reunión muy importante con el director.",
        "¿Sabes dónde está la estación de tren más cercana?",
        "Nos gustaría reservar una mesa para cuatro personas el sábado por la noche.",
        "El paquete llegará entre el lunes y el miércoles.",
        "Me encanta pasear por la playa cuando hace buen tiempo.",
        "Por favor, envíeme la factura antes del viernes.",
        "Mi hermana trabaja como enfermera en un hospital de Madrid.",
        "No pude ir a clase porque estaba enfermo.",
        "Este restaurante tiene la mejor paella de la ciudad.",
        "Hemos decidido aplazar el viaje hasta el verano.",
    ),
    "bad_sentence": (
        "Haber si nos vemos mañana y hablamos del proyecto.",
        "Ayer fuistes a la tienda y no me trajistes nada.",
        "Hay que tener encuenta que el informe esta incompleto.",
        "Si tendría más tiempo, iría al gimnasio todos los dias.",
        "Me se olvidó llamarte, perdona.",
        "Los niños estaban echos un desastre despues de la fiesta.",
        "Espero que te allá gustado el regalo que te envie.",
        "Habían muchas personas en la reunion de ayer.",
        "El proyecto a sido aprobado por la direcion.",
        "Osea que no vienes a la cena, vale, pues hay te quedas.",
    ),
    "lang_name": (
        "inglés",
        "francés",
        "alemán",
        "chino",
        "japonés",
        "ruso",
        "portugués",
        "italiano",
        "árabe",
        "coreano",
    ),
    "item": (
        "El pedido llegó roto y nadie contesta al teléfono. Fatal.",
        "¡Felicidades! Has ganado un iPhone 15. Haz clic aquí para reclamarlo.",
        "Asunto: Reunión trimestral de resultados - jueves 10:00",
        "El Gobierno aprueba la subida del salario mínimo para 2025",
        "Me encantó el hotel, el personal súper amable y las vistas increíbles 😍",
        "No me funciona la app desde la última actualización, necesito ayuda urgente",
        "El Real Madrid remonta en el último minuto y pasa a semifinales",
        "Oferta exclusiva: préstamos sin intereses, solo hoy!!!",
        "La película está bien, aunque se hace un poco larga.",
        "Buenas, ¿a qué hora abrís los domingos?",
        "Asunto: URGENTE - caída del servidor de producción",
    ),
}

_ES_TEMPLATES: dict[str, tuple[str, ...]] = {
    "code": (
        "¿Cómo hago un bucle for en {code_lang}?",
        "hola me ayudas con un codigo python que saque el fibonacci",
        "Explícame este error:\n{code}",
        "Escribe una función en {code_lang} que {code_task}.",
        "Tengo este código y no funciona, ¿qué le pasa?\n{code}",
        "Necesito una consulta SQL que me devuelva los 10 clientes con más pedidos del último mes.",
        "¿Qué diferencia hay entre git merge y git rebase? ¿Cuándo uso cada uno?",
        "Revisa este código y dime qué mejorarías:\n{code}",
        "como hago un script en bash que {code_task}",
        "Buenas tardes. Estoy aprendiendo {code_lang} y no entiendo bien cómo funcionan las clases. "
        "¿Me pone un ejemplo sencillo con comentarios?",
        "Dame una expresión regular para validar un número de teléfono español.",
        "Pasa este código a {code_lang}, por favor:\n{code}",
        "¿Qué hace exactamente este fragmento?\n{code}",
        "Quiero un programa que {code_task}. Lo necesito en {code_lang} y que sea fácil de leer.",
    ),
    "math": (
        "¿Cuánto es el {pct}% de {a}?",
        "Resuelve {linear}",
        "Dime cuál es el resultado de sumar {a} y {b}",
        "resuelve esta ecuacion paso a paso: {quadratic}",
        "Calcula la derivada de {poly}",
        "Si un pantalón cuesta {a} euros y tiene un descuento del {pct} %, ¿cuánto pago al final?",
        "Un tren sale de {city} a 80 km/h y otro sale dos horas después a 120 km/h por la misma vía. "
        "¿Cuánto tarda en alcanzarlo?",
        "Explícame cómo se calculan la media y la desviación típica de estos números: 4, 8, 15, 16, 23, 42",
        "cuanto es {a} por {b}",
        "¿Cuál es la probabilidad de sacar dos seises seguidos al tirar un dado?",
        "Demuestra que la raíz cuadrada de 2 es irracional.",
        "Tengo {a} euros ahorrados y los meto en una cuenta al {pct} % de interés compuesto anual. "
        "¿Cuánto tendré dentro de {n} años?",
        "¿Cuántos litros caben en una piscina de 8 m de largo, 4 de ancho y 1,5 de profundidad?",
        "Hola! me podrías ayudar a integrar {poly} entre 0 y 2?",
    ),
    "reasoning": (
        "Un caballo blanco entró en el Mar Negro. ¿Cómo salió?",
        "Si adelanto al segundo en una carrera, ¿en qué posición quedo?",
        "Todos los gatos son mamíferos y algunos mamíferos nadan. ¿Se puede concluir que algunos gatos nadan? "
        "Razona la respuesta.",
        "¿Cuál es el intruso: manzana, pera, zanahoria, plátano, uva?",
        "Adivinanza: cuanto más le quitas, más grande se hace. ¿Qué es?",
        "{name} es mayor que Ana, y Ana es mayor que Luis. ¿Quién es el más joven de los tres?",
        "El padre de María tiene cinco hijas: Lala, Lele, Lili, Lolo... ¿cómo se llama la quinta?",
        "Tengo tres cajas: una con manzanas, otra con naranjas y otra con ambas, y todas las etiquetas están mal. "
        "Sacando una sola fruta, ¿cómo averiguo qué hay en cada una?",
        "Cinco amigos se sientan en fila. Pedro no está en los extremos, Laura está junto a Pedro y Juan está a la "
        "izquierda del todo. ¿Qué posiciones son posibles para cada uno?",
        "acertijo: qué pesa más, un kilo de plumas o un kilo de hierro",
        "Si anteayer fue viernes, ¿qué día será pasado mañana?",
        "Un hombre mira un retrato y dice: «No tengo hermanos ni hermanas, pero el padre de este hombre es el hijo "
        "de mi padre». ¿Quién es el del retrato?",
        "Tengo que cuadrar cuatro personas en turnos: Ana solo puede por la mañana, Beto no puede el lunes y Carla "
        "tiene que ir antes que Dani. Con lunes y martes, mañana y tarde, ¿cómo lo organizo?",
    ),
    "extraction": (
        "Saca todos los nombres de personas y las fechas que aparecen en este texto:\n\n{passage}",
        "Lee esto y dime quién tiene que hacer qué:\n{passage}",
        "Según el siguiente texto, ¿qué cantidades de dinero se mencionan y a qué corresponden? Responde solo con "
        "lo que diga el texto.\n\n{passage}",
        "{passage}\n\nExtrae las tareas pendientes en forma de lista.",
        "De este correo sácame la fecha, la hora y el lugar de la reunión: «Hola, Lucía: al final nos vemos el "
        "martes 12 a las 17:00 en la sala 3 de la oficina de Bilbao. Trae el portátil.»",
        "Extrae en formato JSON los campos nombre, empresa y teléfono de este texto: «Me llamo Andrés Molina, "
        "trabajo en Transportes Ebro y mi número es el 612 345 789.»",
        "Responde usando únicamente la información del párrafo: ¿cuál es la causa principal que se menciona?"
        "\n\n{passage}",
        "me sacas las cifras y porcentajes de este texto? {passage}",
        "Identifica las organizaciones y los lugares que se nombran aquí:\n{passage}",
        "Buenos días. Le paso un texto y necesito que me indique solamente las fechas que aparecen, sin "
        "comentarios:\n\n{passage}",
        "¿Qué productos y precios aparecen en este mensaje? «Os confirmo el pedido: 3 sillas a 45 €, una mesa a "
        "120 € y el envío, 15 €.»",
    ),
    "summarization": (
        "Resume este texto en menos de 50 palabras:\n\n{passage}",
        "TL;DR:\n{passage}",
        "Hazme un resumen de los puntos clave:\n{passage}",
        "¿Me puedes resumir el Quijote en un párrafo?",
        "resumeme esto en 2 frases porfa {passage}",
        "Resume el argumento de la película El laberinto del fauno en pocas líneas.",
        "Necesito un resumen ejecutivo de este informe para {audience}:\n\n{passage}",
        "{passage}\n\n¿De qué va esto, en pocas palabras?",
        "Dame los tres puntos más importantes de este correo:\n{passage}",
        "Sintetiza en una sola frase la idea principal:\n{passage}",
        "Hazme un resumen breve de la Segunda Guerra Mundial, lo justo para el examen de mañana.",
        "Resume Cien años de soledad en cinco líneas.",
    ),
    "translation": (
        "Traduce al {lang_name}: {sentence}",
        "¿Cómo se dice «{sentence}» en {lang_name}?",
        "Traduce esto al español: {en_sentence}",
        "qué significa esto en español? {foreign}",
        "Por favor, tradúzcame el siguiente texto al {lang_name} manteniendo un tono formal:\n\n{passage}",
        "Necesito esta frase en inglés para un correo: {sentence}",
        "traduceme {en_sentence}",
        "Pasa este párrafo al {lang_name}, que es para un cliente:\n{passage}",
        "¿Cómo se dice «{thing}» en {lang_name}?",
        "Hola, ¿me ayudas a traducir esto? No sé ni qué idioma es: {foreign}",
        "Traducción al castellano, por favor: {en_sentence}",
        "Tradúcelo primero al {lang_name} y luego al inglés: {sentence}",
    ),
    "classification": (
        "¿Esta reseña es positiva o negativa? {item}",
        "Clasifica este mensaje como spam o no spam: {item}",
        "¿De qué tema es este titular: política, deportes, economía, tecnología o cultura?\n{item}",
        "Dime si el siguiente texto es formal o informal: {sentence}",
        "¿Es urgente este ticket de soporte? Responde sí o no.\n{item}",
        "Etiqueta el sentimiento (positivo, neutro, negativo):\n{item}",
        "clasifica esto: {item}",
        "Tengo que ordenar el correo de atención al cliente. ¿En qué categoría pondrías este: queja, consulta, "
        "devolución u otro?\n\n{item}",
        "Analiza el sentimiento de este tuit y dame solo la etiqueta: {item}",
        "¿Qué emoción expresa este comentario: alegría, enfado, tristeza o sorpresa? {item}",
        "Asigna una categoría (facturación, técnico, comercial) a este mensaje: {item}",
    ),
    "creative_writing": (
        "Escribe {form} sobre {topic}.",
        "Redacta una historia de 4 párrafos sobre un gato que vive en {city}.",
        "Eres un experto en marketing, escribe un anuncio para {thing}.",
        "hazme un poema de amor para {name}",
        "Escribe una canción de cumpleaños para {audience}, que rime y sea graciosa.",
        "Cuéntame un chiste sobre programadores.",
        "Necesito un discurso de 3 minutos para la boda de mi hermano, emotivo pero con algo de humor.",
        "Escribe un diálogo entre un robot y {audience} atrapados en un ascensor.",
        "Inventa un eslogan para una panadería de {city}.",
        "Quiero un relato de terror cortito que pase en un pueblo abandonado de Castilla.",
        "Redacta una carta de despedida para un compañero que se jubila después de 30 años en la empresa.",
        "Escribe un ensayo breve sobre {topic} con introducción, desarrollo y conclusión.",
        "Haz de cuenta que eres un pirata del siglo XVII y cuéntame tu última aventura.",
    ),
    "brainstorming": (
        "Dame ideas para un post sobre {topic}.",
        "¿Me puedes dar algún consejo para dibujar mejor?",
        "¿Qué pasos debo seguir para convertirme en científico de datos?",
        "Recomiéndame libros de ciencia ficción para empezar.",
        "Necesito nombres para una tienda de ropa de segunda mano en {city}.",
        "ideas para regalar a {audience} que no cuesten mas de 30 euros",
        "¿Qué puedo hacer un fin de semana en {city} con niños?",
        "Estoy organizando una cena para 10 personas y una es vegana. ¿Qué menú me sugieres?",
        "Hazme un plan de entrenamiento para correr 10 km en dos meses.",
        "Dame 10 ideas de contenido para Instagram sobre {topic}.",
        "Buenas, quiero ser más productivo trabajando desde casa. ¿Algún consejo práctico?",
        "¿Qué actividades de team building se pueden hacer con {audience}?",
        "Lluvia de ideas: formas de reducir el consumo de plástico en la oficina.",
    ),
    "rewrite": (
        "Corrige la ortografía y la gramática: {bad_sentence}",
        "Reescribe este texto con un tono {tone}:\n\n{passage}",
        "Parafrasea esta frase: {sentence}",
        "Hazlo más corto, por favor:\n{passage}",
        "Adapta este párrafo para {audience}:\n{passage}",
        "Convierte este texto en una lista de viñetas:\n{passage}",
        "corrigeme esto: {bad_sentence}",
        "¿Puede darle un tono más formal a esta frase? {sentence}",
        "Mejora la redacción de este correo sin cambiar el contenido:\n\n{passage}",
        "Simplifica este párrafo, quita lo que sobre:\n{passage}",
        "Revisa este texto y corrige los errores: «{bad_sentence}»",
        "Escríbelo de otra manera, con un tono {tone}: {sentence}",
    ),
    "open_qa": (
        "¿Qué es {concept}?",
        "¿Por qué el cielo es azul?",
        "Explícame cómo funcionan las redes neuronales.",
        "¿Cuáles son los colores primarios?",
        "quien fue simon bolivar",
        "¿Qué diferencia hay entre un virus y una bacteria?",
        "Explícale {concept} a {audience}.",
        "¿Cuál es la capital de Australia?",
        "¿Por qué se celebra el Día de Muertos en México?",
        "¿Qué opinas de la energía nuclear? ¿Es buena idea?",
        "¿Cómo funciona un motor eléctrico?",
        "Oye, una pregunta: ¿por qué ronronean los gatos?",
        "¿Es mejor vivir en {city} o en un pueblo? ¿Tú qué piensas?",
        "¿Cuándo cayó el muro de Berlín y por qué fue tan importante?",
    ),
}

SPANISH = Lang(code="es", name="Spanish", pools=_ES_POOLS, templates=_ES_TEMPLATES)

# ---------------------------------------------------------------------------------------------------------------
# Portuguese (Brazilian usage)
# ---------------------------------------------------------------------------------------------------------------

_PT_POOLS: dict[str, tuple[str, ...]] = {
    "topic": (
        "o trabalho remoto",
        "a alimentação saudável",
        "as mudanças climáticas",
        "a inteligência artificial",
        "a economia doméstica",
        "as redes sociais",
        "o turismo sustentável",
        "a saúde mental",
        "a reciclagem",
        "o ensino a distância",
    ),
    "name": ("Ana", "João", "Maria", "Pedro", "Juliana", "Lucas", "Fernanda", "Rafael", "Camila", "Gabriel"),
    "city": (
        "São Paulo",
        "Belo Horizonte",
        "Salvador",
        "Recife",
        "Porto Alegre",
        "Curitiba",
        "Fortaleza",
        "Brasília",
        "Manaus",
        "Florianópolis",
    ),
    "thing": (
        "uma cafeteira",
        "minha bicicleta",
        "um notebook",
        "um fone de ouvido sem fio",
        "uma air fryer",
        "um aspirador robô",
        "meu celular",
        "uma máquina de lavar",
        "uma cadeira gamer",
        "um relógio inteligente",
    ),
    "audience": (
        "minha avó",
        "uma criança de cinco anos",
        "os novos funcionários",
        "meus alunos do ensino médio",
        "um cliente irritado",
        "meu chefe",
        "um grupo de aposentados",
        "pessoas leigas em tecnologia",
    ),
    "tone": (
        "formal",
        "mais descontraído",
        "mais persuasivo",
        "neutro",
        "mais educado",
        "profissional",
        "engraçado",
        "mais direto",
    ),
    "form": (
        "um poema",
        "um conto curto",
        "uma música",
        "um soneto",
        "um haicai",
        "um cordel",
        "uma fábula",
        "um rap",
        "uma crônica",
    ),
    "concept": (
        "a inflação",
        "a fotossíntese",
        "um buraco negro",
        "o blockchain",
        "a teoria da relatividade",
        "o efeito estufa",
        "a democracia",
        "o sistema imunológico",
        "a taxa Selic",
        "o aprendizado de máquina",
    ),
    "code_task": (
        "inverta uma string",
        "leia um arquivo CSV e some uma coluna",
        "verifique se um número é primo",
        "ordene uma lista de dicionários por data",
        "baixe uma página web e conte as palavras",
        "valide um endereço de e-mail",
        "remova os itens duplicados de uma lista",
        "calcule o fatorial de um número",
    ),
    "passage": (
        (
            "A Prefeitura de Curitiba anunciou nesta segunda-feira que a tarifa de ônibus ficará congelada até o fim "
            "de 2025. A medida deve custar cerca de R$ 80 milhões aos cofres públicos. Segundo o secretário de "
            "Mobilidade, Carlos Menezes, a expectativa é que o número de passageiros cresça 10%. Vereadores da "
            "oposição criticaram a falta de debate com a população."
        ),
        (
            "Oi, pessoal! A reunião com o cliente de Recife foi remarcada para quinta-feira, dia 14, às 10h30. A "
            "Fernanda vai preparar a apresentação e o Tiago fica responsável por enviar o orçamento atualizado até "
            "quarta. Por favor, deem uma olhada no contrato antes e me mandem as dúvidas. Abraços, Rodrigo."
        ),
        (
            "Ata da reunião de 3 de outubro. Presentes: Luana Costa, Marcelo Dias e Patrícia Lima. Ficou decidido "
            "adiar o lançamento do novo aplicativo para novembro por causa de falhas no sistema de pagamento. O "
            "Marcelo vai revisar os testes de carga e a Patrícia vai falar com o fornecedor até sexta-feira. A "
            "próxima reunião será no dia 10 de outubro."
        ),
        (
            "Comprei essa air fryer há dois meses por R$ 399 e estou bem satisfeito. Ela esquenta rápido e a batata "
            "fica crocante quase sem óleo. O ponto negativo é o barulho, e o cesto é pequeno para uma família de "
            "quatro pessoas. O atendimento ao cliente respondeu rápido quando tive uma dúvida. Pelo preço, recomendo."
        ),
        (
            "O faturamento do segundo trimestre cresceu 8% em relação ao mesmo período do ano passado, chegando a "
            "R$ 12 milhões. O crescimento veio principalmente da loja online, que já representa 40% das vendas. Por "
            "outro lado, os custos de frete subiram 15%. A diretoria propõe renegociar os contratos com as "
            "transportadoras."
        ),
        (
            "Pesquisadores da Universidade Federal do Amazonas identificaram uma nova espécie de sapo na região de "
            "Manaus. O animal, de apenas dois centímetros, vive em áreas de floresta alagada. Os cientistas alertam "
            "que o desmatamento pode ameaçar o habitat da espécie nas próximas décadas. A descoberta foi publicada "
            "em uma revista internacional de zoologia."
        ),
        (
            "Prezados, no dia 22 de janeiro fiz o pedido número 45872, que até hoje não foi entregue. Já liguei três "
            "vezes para o SAC e ninguém resolveu o problema. Solicito o reembolso de R$ 259,90 ou o envio do produto "
            "ainda esta semana. Atenciosamente, Beatriz Souza."
        ),
    ),
    "sentence": (
        "Amanhã tenho uma reunião muito importante com o diretor.",
        "Você sabe onde fica a estação de metrô mais próxima?",
        "Gostaríamos de reservar uma mesa para quatro pessoas no sábado à noite.",
        "A encomenda vai chegar entre segunda e quarta-feira.",
        "Eu adoro caminhar na praia quando o tempo está bom.",
        "Por favor, me envie a nota fiscal até sexta-feira.",
        "Minha irmã trabalha como enfermeira em um hospital de São Paulo.",
        "Não fui à aula porque estava doente.",
        "Esse restaurante tem a melhor feijoada da cidade.",
        "Decidimos adiar a viagem para as férias de julho.",
    ),
    "bad_sentence": (
        "Fazem dois anos que eu não vejo ela.",
        "A gente vamos no cinema amanhã.",
        "Houveram muitos problemas na reunião de ontem.",
        "Menas pessoas vieram na festa desse ano.",
        "Se eu ver ele amanhã, eu falo com ele.",
        "Ela ficou meia chateada com o que aconteceu.",
        "Os documentos seguem anexo ao e-mail.",
        "Eu ja mandei o relatorio, mais ninguem respondeu.",
        "Agente se fala depois, tá bom?",
        "Faltou duas pessoas na reunião por causa de que choveu.",
    ),
    "lang_name": (
        "inglês",
        "francês",
        "alemão",
        "espanhol",
        "chinês",
        "japonês",
        "russo",
        "italiano",
        "árabe",
        "coreano",
    ),
    "item": (
        "O produto chegou quebrado e ninguém atende o telefone. Péssimo!",
        "Parabéns! Você ganhou um iPhone 15. Clique aqui para resgatar.",
        "Assunto: Reunião trimestral de resultados - quinta 10h",
        "Governo anuncia reajuste do salário mínimo para 2025",
        "Amei o hotel, equipe super simpática e a vista é incrível 😍",
        "O app parou de funcionar depois da atualização, preciso de ajuda urgente",
        "Flamengo vira no último minuto e vai para a semifinal",
        "Empréstimo sem juros aprovado na hora, só hoje!!!",
        "O filme é bom, mas fica meio arrastado no final.",
        "Oi, vocês abrem no domingo?",
        "Assunto: URGENTE - servidor de produção fora do ar",
    ),
}

_PT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "code": (
        "Como faço um loop for em {code_lang}?",
        "oi me ajuda com um codigo em python que calcula fibonacci",
        "Me explica esse erro:\n{code}",
        "Escreva uma função em {code_lang} que {code_task}.",
        "Tenho esse código aqui e não tá funcionando, o que tem de errado?\n{code}",
        "Preciso de uma query SQL que traga os 10 clientes com mais pedidos no último mês.",
        "Qual a diferença entre git merge e git rebase? Quando usar cada um?",
        "Revisa esse código e me diz o que você melhoraria:\n{code}",
        "como faço um script em bash que {code_task}",
        "Boa tarde! Estou aprendendo {code_lang} e não entendi direito como funcionam as classes. "
        "Pode me dar um exemplo simples comentado?",
        "Me passa uma regex pra validar CPF no formato 000.000.000-00",
        "Converte esse código para {code_lang}, por favor:\n{code}",
        "O que exatamente esse trecho faz?\n{code}",
        "Quero um programa que {code_task}. Pode ser em {code_lang}, mas precisa ser fácil de entender.",
    ),
    "math": (
        "Quanto é {pct}% de {a}?",
        "Resolva {linear}",
        "Me diz qual é o resultado de {a} mais {b}",
        "resolve essa equação passo a passo: {quadratic}",
        "Calcule a derivada de {poly}",
        "Uma calça custa R$ {a} e está com {pct}% de desconto. Quanto vou pagar?",
        "Um trem sai de {city} a 80 km/h e outro sai duas horas depois a 120 km/h no mesmo trilho. "
        "Quanto tempo o segundo leva para alcançar o primeiro?",
        "Me explica como calcular a média e o desvio padrão desses números: 4, 8, 15, 16, 23, 42",
        "quanto da {a} vezes {b}",
        "Qual a probabilidade de tirar dois seis seguidos jogando um dado?",
        "Prove que a raiz quadrada de 2 é irracional.",
        "Se eu aplicar R$ {a} a {pct}% ao ano com juros compostos, quanto vou ter daqui a {n} anos?",
        "Quantos litros cabem numa piscina de 8 m de comprimento, 4 m de largura e 1,5 m de profundidade?",
        "Olá! Pode me ajudar a integrar {poly} de 0 a 2?",
    ),
    "reasoning": (
        "Qual é a cor do cavalo branco de Napoleão?",
        "Se eu ultrapassar o segundo colocado numa corrida, em que posição eu fico?",
        "Todos os gatos são mamíferos e alguns mamíferos nadam. Dá para concluir que alguns gatos nadam? Justifique.",
        "Qual não pertence ao grupo: maçã, pera, cenoura, banana, uva?",
        "Charada: o que é, o que é, quanto mais se tira, maior fica?",
        "{name} nasceu antes da Bia, e a Bia nasceu antes do Léo. Quem é o mais novo?",
        "A mãe do Joãozinho tem três filhos: Abril, Maio e... qual o nome do terceiro?",
        "Tenho três caixas: uma só com maçãs, outra só com laranjas e outra com as duas, e todas as etiquetas "
        "estão trocadas. Tirando uma fruta só, como descubro o que tem em cada caixa?",
        "Cinco amigos estão sentados em fila. O Caio não está nas pontas, a Lia está ao lado do Caio e o Davi "
        "está na ponta esquerda. Quais posições são possíveis para cada um?",
        "pegadinha: o que pesa mais, um quilo de algodão ou um quilo de ferro?",
        "Se anteontem foi sexta-feira, que dia vai ser depois de amanhã?",
        "Um homem olha um retrato e diz: 'Não tenho irmãos nem irmãs, mas o pai desse homem é filho do meu pai.' "
        "Quem está no retrato?",
        "Preciso encaixar quatro pessoas em horários: a Ana só pode de manhã, o Beto não pode na segunda e a "
        "Carla tem que ser antes do Davi. Com segunda e terça, manhã e tarde, como fica?",
    ),
    "extraction": (
        "Tire todos os nomes de pessoas e as datas que aparecem neste texto:\n\n{passage}",
        "Lê isso e me diz quem tem que fazer o quê:\n{passage}",
        "De acordo com o texto abaixo, quais valores em dinheiro são citados e a que se referem? Use só o que "
        "está no texto.\n\n{passage}",
        "{passage}\n\nExtraia as tarefas pendentes em forma de lista.",
        "Desse e-mail, me passa a data, o horário e o local da reunião: 'Oi, Júlia! Fechado então: terça, dia 12, "
        "às 17h, na sala 3 do escritório da Paulista. Traz o notebook.'",
        "Extraia em JSON os campos nome, empresa e telefone deste texto: 'Meu nome é André Moreira, trabalho na "
        "Transportes Paraná e meu número é (41) 99876-5432.'",
        "Respondendo apenas com base no parágrafo: qual é o principal motivo mencionado?\n\n{passage}",
        "consegue pegar os números e porcentagens desse texto? {passage}",
        "Identifique as organizações e os lugares citados aqui:\n{passage}",
        "Bom dia. Vou te passar um texto e preciso que você liste somente as datas que aparecem, sem "
        "comentários:\n\n{passage}",
        "Quais produtos e preços aparecem nesta mensagem? 'Confirmo o pedido: 3 cadeiras a R$ 150, uma mesa a "
        "R$ 420 e o frete, R$ 35.'",
    ),
    "summarization": (
        "Resuma este texto em menos de 50 palavras:\n\n{passage}",
        "TL;DR:\n{passage}",
        "Faz um resumo dos pontos principais:\n{passage}",
        "Você pode resumir Dom Casmurro em um parágrafo?",
        "resume isso em 2 frases pfv {passage}",
        "Resuma a história do filme Cidade de Deus em poucas linhas.",
        "Preciso de um resumo executivo deste relatório para {audience}:\n\n{passage}",
        "{passage}\n\nDo que se trata isso, resumindo?",
        "Quais são os três pontos mais importantes deste e-mail?\n{passage}",
        "Sintetize em uma frase só a ideia central:\n{passage}",
        "Me faz um resumão da Revolução Francesa, só o essencial pra prova de amanhã.",
        "Resuma O Pequeno Príncipe em cinco linhas.",
    ),
    "translation": (
        "Traduza para o {lang_name}: {sentence}",
        "Como se diz '{sentence}' em {lang_name}?",
        "Traduz isso pro português: {en_sentence}",
        "o que significa isso em português? {foreign}",
        "Por gentileza, traduza o texto abaixo para o {lang_name} mantendo o tom formal:\n\n{passage}",
        "Preciso dessa frase em inglês pra um e-mail: {sentence}",
        "traduz {en_sentence}",
        "Passa esse parágrafo para o {lang_name}, é para um cliente:\n{passage}",
        "Como fala '{thing}' em {lang_name}?",
        "Oi, me ajuda a traduzir isso? Não sei nem que língua é: {foreign}",
        "Tradução para o português do Brasil, por favor: {en_sentence}",
        "Traduz para o {lang_name} e depois para o inglês: {sentence}",
    ),
    "classification": (
        "Essa avaliação é positiva ou negativa? {item}",
        "Classifique esta mensagem como spam ou não spam: {item}",
        "Qual é o tema desta manchete: política, esportes, economia, tecnologia ou cultura?\n{item}",
        "Me diz se o texto a seguir é formal ou informal: {sentence}",
        "Esse chamado de suporte é urgente? Responda sim ou não.\n{item}",
        "Rotule o sentimento (positivo, neutro, negativo):\n{item}",
        "classifica isso: {item}",
        "Estou organizando os e-mails do SAC. Em qual categoria você colocaria este: reclamação, dúvida, "
        "devolução ou outro?\n\n{item}",
        "Analise o sentimento deste tuíte e me dê só o rótulo: {item}",
        "Que emoção esse comentário passa: alegria, raiva, tristeza ou surpresa? {item}",
        "Atribua uma categoria (financeiro, técnico, comercial) a esta mensagem: {item}",
    ),
    "creative_writing": (
        "Escreva {form} sobre {topic}.",
        "Crie uma história de 4 parágrafos sobre um gato que mora em {city}.",
        "Você é um especialista em marketing. Escreva um anúncio para {thing}.",
        "faz um poema de amor pra {name}",
        "Escreva uma música de aniversário para {audience}, que rime e seja engraçada.",
        "Me conta uma piada sobre programadores.",
        "Preciso de um discurso de 3 minutos para o casamento do meu irmão, emocionante mas com um pouco de humor.",
        "Escreva um diálogo entre um robô e {audience} presos num elevador.",
        "Inventa um slogan para uma padaria de {city}.",
        "Quero um conto de terror curtinho que se passe numa fazenda abandonada no interior de Minas.",
        "Redija uma carta de despedida para um colega que está se aposentando depois de 30 anos na empresa.",
        "Escreva uma redação sobre {topic} com introdução, desenvolvimento e conclusão.",
        "Finja que você é um pirata do século XVII e me conte sua última aventura.",
    ),
    "brainstorming": (
        "Me dá ideias de posts sobre {topic}.",
        "Você tem alguma dica para eu desenhar melhor?",
        "Quais passos devo seguir para virar cientista de dados?",
        "Me recomenda livros de ficção científica para começar.",
        "Preciso de nomes para um brechó em {city}.",
        "ideias de presente para {audience} até 100 reais",
        "O que dá pra fazer num fim de semana em {city} com crianças?",
        "Vou fazer um jantar para 10 pessoas e uma é vegana. Que cardápio você sugere?",
        "Monta um plano de treino para eu correr 10 km em dois meses.",
        "Me dá 10 ideias de conteúdo para o Instagram sobre {topic}.",
        "Olá, quero ser mais produtivo trabalhando em home office. Alguma dica prática?",
        "Que dinâmicas de integração dá pra fazer com {audience}?",
        "Brainstorm: maneiras de reduzir o uso de plástico no escritório.",
    ),
    "rewrite": (
        "Corrija a ortografia e a gramática: {bad_sentence}",
        "Reescreva este texto com um tom {tone}:\n\n{passage}",
        "Parafraseie esta frase: {sentence}",
        "Deixa mais curto, por favor:\n{passage}",
        "Adapte este parágrafo para {audience}:\n{passage}",
        "Transforme este texto em tópicos:\n{passage}",
        "corrige pra mim: {bad_sentence}",
        "Pode deixar essa frase mais formal? {sentence}",
        "Melhore a redação deste e-mail sem mudar o conteúdo:\n\n{passage}",
        "Simplifica esse parágrafo, tira o que estiver sobrando:\n{passage}",
        "Revise o texto e corrija os erros: '{bad_sentence}'",
        "Escreve isso de outro jeito, com um tom {tone}: {sentence}",
    ),
    "open_qa": (
        "O que é {concept}?",
        "Por que o céu é azul?",
        "Me explica como funcionam as redes neurais.",
        "Quais são as cores primárias?",
        "quem foi santos dumont",
        "Qual a diferença entre vírus e bactéria?",
        "Explique {concept} para {audience}.",
        "Qual é a capital da Austrália?",
        "Por que o Carnaval muda de data todo ano?",
        "O que você acha da energia nuclear? Vale a pena?",
        "Como funciona um motor elétrico?",
        "Uma curiosidade: por que os gatos ronronam?",
        "É melhor morar em {city} ou no interior? O que você acha?",
        "Quando caiu o Muro de Berlim e por que isso foi tão importante?",
    ),
}

PORTUGUESE = Lang(code="pt", name="Portuguese", pools=_PT_POOLS, templates=_PT_TEMPLATES)

# ---------------------------------------------------------------------------------------------------------------
# French
# ---------------------------------------------------------------------------------------------------------------

_FR_POOLS: dict[str, tuple[str, ...]] = {
    "topic": (
        "le télétravail",
        "l'alimentation saine",
        "le changement climatique",
        "l'intelligence artificielle",
        "les économies d'énergie",
        "les réseaux sociaux",
        "le tourisme durable",
        "la santé mentale",
        "le recyclage",
        "l'école à distance",
    ),
    "name": ("Camille", "Lucas", "Chloé", "Hugo", "Léa", "Thomas", "Manon", "Julien", "Inès", "Nicolas"),
    "city": (
        "Paris",
        "Lyon",
        "Marseille",
        "Toulouse",
        "Bordeaux",
        "Lille",
        "Nantes",
        "Strasbourg",
        "Bruxelles",
        "Montréal",
    ),
    "thing": (
        "une machine à café",
        "mon vélo",
        "un ordinateur portable",
        "des écouteurs sans fil",
        "une friteuse à air",
        "un aspirateur robot",
        "mon smartphone",
        "un lave-linge",
        "une chaise de bureau",
        "une montre connectée",
    ),
    "audience": (
        "ma grand-mère",
        "un enfant de cinq ans",
        "les nouveaux employés",
        "mes élèves de collège",
        "un client mécontent",
        "mon chef",
        "un groupe de retraités",
        "des gens qui n'y connaissent rien en informatique",
    ),
    "tone": (
        "formel",
        "plus chaleureux",
        "plus persuasif",
        "neutre",
        "plus poli",
        "professionnel",
        "humoristique",
        "plus direct",
    ),
    "form": (
        "un poème",
        "une nouvelle courte",
        "une chanson",
        "un sonnet",
        "un haïku",
        "une fable",
        "un rap",
        "un conte",
        "une lettre",
    ),
    "concept": (
        "l'inflation",
        "la photosynthèse",
        "un trou noir",
        "la blockchain",
        "la relativité",
        "l'effet de serre",
        "la démocratie",
        "le système immunitaire",
        "le taux d'intérêt",
        "l'apprentissage automatique",
    ),
    "code_task": (
        "inverse une chaîne de caractères",
        "lit un fichier CSV et fait la somme d'une colonne",
        "vérifie si un nombre est premier",
        "trie une liste de dictionnaires par date",
        "télécharge une page web et compte les mots",
        "valide une adresse e-mail",
        "supprime les doublons d'une liste",
        "calcule la factorielle d'un nombre",
    ),
    "passage": (
        (
            "La mairie de Lyon a annoncé hier que les transports en commun seront gratuits pour les moins de 18 ans "
            "à partir du 1er mars. La mesure coûtera environ 6 millions d'euros par an et sera financée en partie par "
            "la région. Selon l'adjointe aux mobilités, Sophie Martin, la fréquentation devrait augmenter de 12 %. "
            "L'opposition regrette l'absence de concertation avec les habitants."
        ),
        (
            "Bonjour à tous, je vous confirme que la réunion avec le client de Nantes est décalée au jeudi 14 à "
            "10 h 30. Claire préparera la présentation et Antoine enverra le devis mis à jour avant mercredi. Merci de "
            "relire le contrat avant la réunion et de me faire remonter vos questions. Bonne journée, Mathieu."
        ),
        (
            "Compte rendu de la réunion du 3 octobre. Présents : Julie Bernard, Marc Petit et Aurélie Roux. Il a été "
            "décidé de repousser le lancement du nouveau site à novembre à cause de problèmes avec le prestataire de "
            "paiement. Marc s'occupera des tests de charge et Aurélie contactera le prestataire avant vendredi. "
            "Prochaine réunion le 10 octobre."
        ),
        (
            "J'ai acheté cette friteuse à air il y a deux mois pour 89 euros et j'en suis plutôt content. Elle chauffe "
            "vite et les frites sont croustillantes avec très peu d'huile. En revanche, elle est bruyante et le panier "
            "est un peu petit pour une famille de quatre. Le service client a répondu rapidement à ma question. À ce "
            "prix-là, je la recommande."
        ),
        (
            "Le chiffre d'affaires du deuxième trimestre a progressé de 8 % sur un an pour atteindre 2,3 millions "
            "d'euros. Cette hausse vient surtout de la boutique en ligne, qui représente désormais 40 % des ventes. "
            "Les coûts logistiques ont toutefois augmenté de 15 %. La direction propose de renégocier les contrats "
            "avec les transporteurs."
        ),
        (
            "Des chercheurs de l'université de Grenoble ont découvert une nouvelle espèce de coléoptère dans les "
            "Alpes. L'insecte, qui mesure à peine cinq millimètres, vit à plus de 2 500 mètres d'altitude. Les "
            "scientifiques craignent que le réchauffement climatique ne menace son habitat dans les prochaines "
            "décennies. La découverte a été publiée dans une revue internationale d'entomologie."
        ),
        (
            "Madame, Monsieur, j'ai passé le 22 janvier la commande n° 45872, que je n'ai toujours pas reçue. J'ai "
            "contacté votre service client à trois reprises sans obtenir de réponse. Je vous demande de me rembourser "
            "la somme de 64,90 euros ou de m'expédier le produit cette semaine. Cordialement, Nathalie Girard."
        ),
    ),
    "sentence": (
        "Demain, j'ai une réunion très importante avec le directeur.",
        "Savez-vous où se trouve la station de métro la plus proche ?",
        "Nous voudrions réserver une table pour quatre personnes samedi soir.",
        "Le colis sera livré entre lundi et mercredi.",
        "J'adore me promener au bord de la mer quand il fait beau.",
        "Merci de m'envoyer la facture avant vendredi.",
        "Ma sœur travaille comme infirmière dans un hôpital de Lyon.",
        "Je ne suis pas allé en cours parce que j'étais malade.",
        "Ce restaurant sert la meilleure choucroute de la ville.",
        "Nous avons décidé de reporter le voyage à l'été prochain.",
    ),
    "bad_sentence": (
        "Si j'aurais su, je serais pas venu.",
        "Je vous est envoyé le dossier hier soir.",
        "Les enfants ont manger tout les gâteaux.",
        "Malgré qu'il pleut, on va sortir.",
        "Ils sont partis sans dire au revoir, sa m'a énervé.",
        "Quand est-ce que tu vas venir a la maison ?",
        "La réunion a été annulé a cause de la grêve.",
        "On pourrait allé au cinéma ce week-end si tu veut.",
        "J'ai pas le temps de m'occupé de sa maintenant.",
        "Les résultat son meilleurs que ce que on pensait.",
    ),
    "lang_name": (
        "anglais",
        "espagnol",
        "allemand",
        "chinois",
        "japonais",
        "russe",
        "portugais",
        "italien",
        "arabe",
        "coréen",
    ),
    "item": (
        "Colis arrivé cassé et personne ne répond au téléphone. Nul.",
        "Félicitations ! Vous avez gagné un iPhone 15. Cliquez ici pour le récupérer.",
        "Objet : Réunion trimestrielle des résultats - jeudi 10 h",
        "Le gouvernement annonce une hausse du SMIC pour 2025",
        "Hôtel génial, personnel adorable et vue magnifique 😍",
        "L'appli ne marche plus depuis la mise à jour, j'ai besoin d'aide vite svp",
        "Le PSG s'impose dans les arrêts de jeu et file en demi-finale",
        "Crédit sans intérêts accepté en 5 minutes, offre limitée !!!",
        "Le film est pas mal, mais un peu long vers la fin.",
        "Bonjour, vous êtes ouverts le dimanche ?",
        "Objet : URGENT - serveur de production en panne",
    ),
}

_FR_TEMPLATES: dict[str, tuple[str, ...]] = {
    "code": (
        "Comment on fait une boucle for en {code_lang} ?",
        "salut tu peux m'aider avec un code python qui calcule la suite de fibonacci",
        "Explique-moi cette erreur :\n{code}",
        "Écris une fonction en {code_lang} qui {code_task}.",
        "J'ai ce code et il marche pas, qu'est-ce qui cloche ?\n{code}",
        "J'ai besoin d'une requête SQL qui renvoie les 10 clients avec le plus de commandes le mois dernier.",
        "Quelle est la différence entre git merge et git rebase ? Quand utiliser l'un ou l'autre ?",
        "Peux-tu relire ce code et me dire ce que tu améliorerais ?\n{code}",
        "comment faire un script bash qui {code_task}",
        "Bonjour, j'apprends {code_lang} et je ne comprends pas bien comment fonctionnent les classes. "
        "Pourriez-vous me donner un exemple simple et commenté ?",
        "Donne-moi une regex pour valider un numéro de téléphone français.",
        "Traduis ce code en {code_lang} stp :\n{code}",
        "Que fait exactement ce bout de code ?\n{code}",
        "Je voudrais un programme qui {code_task}, en {code_lang}, et facile à lire.",
    ),
    "math": (
        "Combien font {pct} % de {a} ?",
        "Résous {linear}",
        "Dis-moi le résultat de {a} + {b}",
        "resous cette equation etape par etape : {quadratic}",
        "Calcule la dérivée de {poly}",
        "Un pantalon coûte {a} euros et il est soldé à {pct} %. Combien je vais payer ?",
        "Un train part de {city} à 80 km/h, un autre part deux heures plus tard à 120 km/h sur la même voie. "
        "Au bout de combien de temps le rattrape-t-il ?",
        "Explique-moi comment calculer la moyenne et l'écart-type de ces nombres : 4, 8, 15, 16, 23, 42",
        "combien fait {a} fois {b}",
        "Quelle est la probabilité d'obtenir deux six d'affilée avec un dé ?",
        "Démontrez que la racine carrée de 2 est irrationnelle.",
        "Si je place {a} euros à {pct} % par an en intérêts composés, combien j'aurai dans {n} ans ?",
        "Combien de litres contient une piscine de 8 m de long, 4 m de large et 1,5 m de profondeur ?",
        "Bonjour ! Pouvez-vous m'aider à intégrer {poly} entre 0 et 2 ?",
    ),
    "reasoning": (
        "De quelle couleur est le cheval blanc d'Henri IV ?",
        "Si je double le deuxième dans une course, je suis à quelle place ?",
        "Tous les chats sont des mammifères et certains mammifères nagent. Peut-on en conclure que certains chats "
        "nagent ? Justifie.",
        "Quel est l'intrus : pomme, poire, carotte, banane, raisin ?",
        "Devinette : plus on m'enlève de terre, plus je deviens grand. Qui suis-je ?",
        "{name} a trois ans de plus que Zoé, et Zoé a deux ans de plus que Paul. Qui est le plus jeune ?",
        "Le père de Marie a cinq filles : Nana, Nene, Nini, Nono... Comment s'appelle la cinquième ?",
        "J'ai trois boîtes : une de pommes, une d'oranges et une mélangée, et toutes les étiquettes sont fausses. "
        "En tirant un seul fruit, comment savoir ce que contient chaque boîte ?",
        "Cinq amis sont assis en rang. Léo n'est pas aux extrémités, Emma est à côté de Léo et Jules est tout à "
        "gauche. Quelles places sont possibles pour chacun ?",
        "question piège : qu'est-ce qui est plus lourd, un kilo de plumes ou un kilo de plomb ?",
        "Si avant-hier c'était vendredi, quel jour serons-nous après-demain ?",
        "Un homme regarde un portrait et dit : « Je n'ai ni frère ni sœur, mais le père de cet homme est le fils "
        "de mon père. » Qui est sur le portrait ?",
        "Je dois caser quatre personnes sur des créneaux : Anne seulement le matin, Bruno pas le lundi, et Chloé "
        "doit passer avant David. Avec lundi et mardi, matin et après-midi, comment je fais ?",
    ),
    "extraction": (
        "Relève tous les noms de personnes et les dates qui apparaissent dans ce texte :\n\n{passage}",
        "Lis ça et dis-moi qui doit faire quoi :\n{passage}",
        "D'après le texte ci-dessous, quels montants sont mentionnés et à quoi correspondent-ils ? Réponds "
        "uniquement à partir du texte.\n\n{passage}",
        "{passage}\n\nExtrais les actions à mener sous forme de liste.",
        "Dans ce mail, trouve-moi la date, l'heure et le lieu du rendez-vous : « Salut Léa, c'est bon pour mardi "
        "12 à 17 h, salle 3 au bureau de Lille. Pense à ton ordi. »",
        "Extrais au format JSON les champs nom, entreprise et téléphone : « Je m'appelle Olivier Durand, je "
        "travaille chez Transports Garonne et mon numéro est le 06 12 34 56 78. »",
        "En te basant uniquement sur ce paragraphe, quelle est la cause principale évoquée ?\n\n{passage}",
        "tu peux me sortir les chiffres et pourcentages de ce texte ? {passage}",
        "Identifiez les organisations et les lieux cités ici :\n{passage}",
        "Bonjour, je vous donne un texte et j'aimerais uniquement la liste des dates qui y figurent, sans "
        "commentaire :\n\n{passage}",
        "Quels produits et quels prix apparaissent dans ce message ? « Je confirme la commande : 3 chaises à "
        "45 €, une table à 120 € et la livraison à 15 €. »",
    ),
    "summarization": (
        "Résume ce texte en moins de 50 mots :\n\n{passage}",
        "TL;DR :\n{passage}",
        "Fais-moi une synthèse des points clés :\n{passage}",
        "Tu peux me résumer Les Misérables en un paragraphe ?",
        "resume moi ca en 2 phrases stp {passage}",
        "Résume l'intrigue du film Intouchables en quelques lignes.",
        "J'ai besoin d'un résumé de ce rapport pour {audience} :\n\n{passage}",
        "{passage}\n\nEn bref, ça parle de quoi ?",
        "Quels sont les trois points essentiels de ce mail ?\n{passage}",
        "Condense l'idée principale en une seule phrase :\n{passage}",
        "Fais-moi un résumé rapide de la Révolution française, juste l'essentiel pour mon contrôle de demain.",
        "Résume Le Petit Prince en cinq lignes.",
    ),
    "translation": (
        "Traduis en {lang_name} : {sentence}",
        "Comment on dit « {sentence} » en {lang_name} ?",
        "Traduis ça en français : {en_sentence}",
        "ça veut dire quoi en français ? {foreign}",
        "Pourriez-vous traduire le texte suivant en {lang_name} en gardant un ton formel ?\n\n{passage}",
        "J'ai besoin de cette phrase en anglais pour un mail : {sentence}",
        "traduction stp : {en_sentence}",
        "Passe ce paragraphe en {lang_name}, c'est pour un client :\n{passage}",
        "Comment dit-on « {thing} » en {lang_name} ?",
        "Salut, tu peux me traduire ça ? Je sais même pas quelle langue c'est : {foreign}",
        "Version française, s'il vous plaît : {en_sentence}",
        "Traduis d'abord en {lang_name}, puis en anglais : {sentence}",
    ),
    "classification": (
        "Cet avis est-il positif ou négatif ? {item}",
        "Classe ce message : spam ou pas spam ? {item}",
        "Quel est le thème de ce titre : politique, sport, économie, technologie ou culture ?\n{item}",
        "Dis-moi si ce texte est formel ou familier : {sentence}",
        "Ce ticket est-il urgent ? Réponds par oui ou non.\n{item}",
        "Étiquette le sentiment (positif, neutre, négatif) :\n{item}",
        "classe ça : {item}",
        "Je trie les mails du service client. Dans quelle catégorie tu mettrais celui-ci : réclamation, question, "
        "retour ou autre ?\n\n{item}",
        "Analyse le sentiment de ce tweet et donne-moi juste l'étiquette : {item}",
        "Quelle émotion exprime ce commentaire : joie, colère, tristesse ou surprise ? {item}",
        "Attribuez une catégorie (facturation, technique, commercial) à ce message : {item}",
    ),
    "creative_writing": (
        "Écris {form} sur {topic}.",
        "Rédige une histoire en 4 paragraphes sur un chat qui vit à {city}.",
        "Tu es expert en marketing : écris une pub pour {thing}.",
        "fais moi un poème d'amour pour {name}",
        "Écris une chanson d'anniversaire pour {audience}, qui rime et qui soit drôle.",
        "Raconte-moi une blague sur les informaticiens.",
        "Il me faut un discours de 3 minutes pour le mariage de mon frère, émouvant mais avec une touche d'humour.",
        "Écris un dialogue entre un robot et {audience} coincés dans un ascenseur.",
        "Invente un slogan pour une boulangerie de {city}.",
        "Je veux une petite histoire d'horreur qui se passe dans un village abandonné des Cévennes.",
        "Rédigez une lettre d'adieu pour un collègue qui part à la retraite après 30 ans dans l'entreprise.",
        "Écris une courte dissertation sur {topic} avec introduction, développement et conclusion.",
        "Fais comme si tu étais un pirate du XVIIe siècle et raconte-moi ta dernière aventure.",
    ),
    "brainstorming": (
        "Donne-moi des idées de posts sur {topic}.",
        "Tu aurais des conseils pour mieux dessiner ?",
        "Quelles étapes suivre pour devenir data scientist ?",
        "Recommande-moi des livres de science-fiction pour débuter.",
        "Il me faut des noms pour une friperie à {city}.",
        "idées de cadeau pour {audience} à moins de 30 euros",
        "Qu'est-ce qu'on peut faire un week-end à {city} avec des enfants ?",
        "J'organise un dîner pour 10 personnes dont une végane. Tu me proposes quel menu ?",
        "Prépare-moi un plan d'entraînement pour courir 10 km dans deux mois.",
        "Donne-moi 10 idées de contenu Instagram sur {topic}.",
        "Bonjour, je voudrais être plus productif en télétravail. Des astuces concrètes ?",
        "Quelles activités de team building organiser avec {audience} ?",
        "Brainstorming : comment réduire le plastique au bureau ?",
    ),
    "rewrite": (
        "Corrige l'orthographe et la grammaire : {bad_sentence}",
        "Réécris ce texte sur un ton {tone} :\n\n{passage}",
        "Reformule cette phrase : {sentence}",
        "Raccourcis-le, s'il te plaît :\n{passage}",
        "Adapte ce paragraphe pour {audience} :\n{passage}",
        "Transforme ce texte en liste à puces :\n{passage}",
        "tu peux corriger ça : {bad_sentence}",
        "Pouvez-vous rendre cette phrase plus soutenue ? {sentence}",
        "Améliore la formulation de ce mail sans changer le fond :\n\n{passage}",
        "Simplifie ce paragraphe, enlève le superflu :\n{passage}",
        "Relis ce texte et corrige les fautes : « {bad_sentence} »",
        "Écris-le autrement, avec un ton {tone} : {sentence}",
    ),
    "open_qa": (
        "Qu'est-ce que {concept} ?",
        "Pourquoi le ciel est bleu ?",
        "Explique-moi comment fonctionnent les réseaux de neurones.",
        "Quelles sont les couleurs primaires ?",
        "c'etait qui napoleon",
        "Quelle est la différence entre un virus et une bactérie ?",
        "Explique-moi {concept} simplement.",
        "Quelle est la capitale de l'Australie ?",
        "Pourquoi fête-t-on le 14 juillet en France ?",
        "Tu penses quoi du nucléaire ? C'est une bonne idée ?",
        "Comment marche un moteur électrique ?",
        "Petite question : pourquoi les chats ronronnent ?",
        "Vaut-il mieux vivre à {city} ou à la campagne, d'après toi ?",
        "Quand le mur de Berlin est-il tombé et pourquoi c'était si important ?",
    ),
}

FRENCH = Lang(code="fr", name="French", pools=_FR_POOLS, templates=_FR_TEMPLATES)

# ---------------------------------------------------------------------------------------------------------------
# Italian (topics are bare nouns so they read well after "a tema", "su", "di")
# ---------------------------------------------------------------------------------------------------------------

_IT_POOLS: dict[str, tuple[str, ...]] = {
    "topic": (
        "smart working",
        "alimentazione sana",
        "cambiamento climatico",
        "intelligenza artificiale",
        "risparmio energetico",
        "social network",
        "turismo sostenibile",
        "salute mentale",
        "raccolta differenziata",
        "didattica a distanza",
    ),
    "name": ("Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Martina", "Lorenzo"),
    "city": ("Roma", "Milano", "Napoli", "Torino", "Bologna", "Firenze", "Palermo", "Venezia", "Genova", "Bari"),
    "thing": (
        "una macchina del caffè",
        "la mia bici",
        "un portatile",
        "delle cuffie wireless",
        "una friggitrice ad aria",
        "un robot aspirapolvere",
        "il mio smartphone",
        "una lavatrice",
        "una sedia da ufficio",
        "uno smartwatch",
    ),
    "audience": (
        "mia nonna",
        "un bambino di cinque anni",
        "i nuovi assunti",
        "i miei studenti delle medie",
        "un cliente arrabbiato",
        "il mio capo",
        "un gruppo di pensionati",
        "chi non sa niente di informatica",
    ),
    "tone": (
        "formale",
        "più amichevole",
        "più persuasivo",
        "neutro",
        "più cortese",
        "professionale",
        "ironico",
        "più diretto",
    ),
    "form": (
        "una poesia",
        "un racconto breve",
        "una canzone",
        "un sonetto",
        "un haiku",
        "una filastrocca",
        "una favola",
        "un rap",
        "una lettera",
    ),
    "concept": (
        "l'inflazione",
        "la fotosintesi",
        "un buco nero",
        "la blockchain",
        "la relatività",
        "l'effetto serra",
        "la democrazia",
        "il sistema immunitario",
        "lo spread",
        "il machine learning",
    ),
    "code_task": (
        "inverta una stringa",
        "legga un file CSV e sommi una colonna",
        "controlli se un numero è primo",
        "ordini una lista di dizionari per data",
        "scarichi una pagina web e conti le parole",
        "validi un indirizzo email",
        "rimuova i duplicati da una lista",
        "calcoli il fattoriale di un numero",
    ),
    "passage": (
        (
            "Il Comune di Bologna ha annunciato ieri che dal 1° marzo gli autobus saranno gratuiti per i minori di 18 "
            "anni. La misura costerà circa 5 milioni di euro all'anno e sarà finanziata in parte dalla Regione. "
            "Secondo l'assessora alla Mobilità, Elena Rossi, l'uso dei mezzi pubblici dovrebbe aumentare del 12%. "
            "L'opposizione lamenta la mancanza di un confronto con i cittadini."
        ),
        (
            "Ciao a tutti, vi confermo che la riunione con il cliente di Torino è spostata a giovedì 14 alle 10:30. "
            "Federica preparerà la presentazione e Davide invierà il preventivo aggiornato entro mercoledì. Per "
            "favore, rileggete il contratto prima dell'incontro e mandatemi eventuali dubbi. Grazie, Stefano."
        ),
        (
            "Verbale della riunione del 3 ottobre. Presenti: Laura Bianchi, Paolo Ferrari e Silvia Romano. Si è "
            "deciso di rinviare il lancio del nuovo sito a novembre per problemi con il fornitore dei pagamenti. Paolo "
            "si occuperà dei test di carico e Silvia contatterà il fornitore entro venerdì. La prossima riunione è "
            "fissata per il 10 ottobre."
        ),
        (
            "Ho comprato questa friggitrice ad aria due mesi fa a 89 euro e sono abbastanza soddisfatto. Si scalda in "
            "fretta e le patatine vengono croccanti con pochissimo olio. Il difetto principale è il rumore, e il "
            "cestello è piccolo per una famiglia di quattro persone. L'assistenza clienti mi ha risposto subito quando "
            "ho avuto un dubbio. A questo prezzo la consiglio."
        ),
        (
            "Il fatturato del secondo trimestre è cresciuto dell'8% rispetto allo stesso periodo dell'anno scorso, "
            "arrivando a 2,3 milioni di euro. La crescita è dovuta soprattutto al negozio online, che ormai "
            "rappresenta il 40% delle vendite. I costi di spedizione però sono aumentati del 15%. La direzione propone "
            "di rinegoziare i contratti con i corrieri."
        ),
        (
            "Un gruppo di ricercatori dell'Università di Padova ha scoperto una nuova specie di coleottero sulle "
            "Dolomiti. L'insetto, lungo appena cinque millimetri, vive a oltre 2.500 metri di quota. Secondo gli "
            "studiosi, il riscaldamento globale potrebbe minacciarne l'habitat nei prossimi decenni. La scoperta è "
            "stata pubblicata su una rivista internazionale di entomologia."
        ),
        (
            "Gentili signori, il 22 gennaio ho effettuato l'ordine n. 45872, che non mi è ancora arrivato. Ho "
            "contattato il servizio clienti tre volte senza ricevere risposta. Vi chiedo di rimborsarmi l'importo di "
            "64,90 euro oppure di spedirmi il prodotto entro questa settimana. Cordiali saluti, Anna Colombo."
        ),
    ),
    "sentence": (
        "Domani ho una riunione molto importante con il direttore.",
        "Sai dov'è la fermata della metro più vicina?",
        "Vorremmo prenotare un tavolo per quattro persone sabato sera.",
        "Il pacco arriverà tra lunedì e mercoledì.",
        "Adoro passeggiare sulla spiaggia quando c'è bel tempo.",
        "Per favore, mi mandi la fattura entro venerdì.",
        "Mia sorella lavora come infermiera in un ospedale di Milano.",
        "Non sono andato a lezione perché ero malato.",
        "Questo ristorante fa la pizza più buona della città.",
        "Abbiamo deciso di rimandare il viaggio all'estate.",
    ),
    "bad_sentence": (
        "Se avrei più tempo, andrei in palestra tutti i giorni.",
        "Qual'è il tuo colore preferito?",
        "Un'altro giorno così e impazzisco.",
        "Gli ho detto a Maria di venire ma lei non ha voluto.",
        "Un pò di pazienza e arriviamo.",
        "Mi piacerebbe che tu venivi alla festa sabato.",
        "Le ragazze sono arrivate in ritardo perchè c'era traffico, a detto Marco.",
        "Ieri sono andato al mare e poi o mangiato un gelato.",
        "Lo studente a consegnato la tesi senza la bibliografia.",
        "Non cè niente da fare, ormai e tardi.",
    ),
    "lang_name": (
        "inglese",
        "francese",
        "tedesco",
        "spagnolo",
        "cinese",
        "giapponese",
        "russo",
        "portoghese",
        "arabo",
        "coreano",
    ),
    "item": (
        "Pacco arrivato rotto e nessuno risponde al telefono. Pessimo.",
        "Congratulazioni! Hai vinto un iPhone 15. Clicca qui per riscuoterlo.",
        "Oggetto: Riunione trimestrale risultati - giovedì ore 10",
        "Il governo approva il taglio del cuneo fiscale per il 2025",
        "Hotel fantastico, personale gentilissimo e vista mozzafiato 😍",
        "L'app non funziona più dopo l'aggiornamento, mi serve aiuto urgente",
        "L'Inter ribalta la partita al 90' e vola in semifinale",
        "Prestito a tasso zero approvato subito, solo per oggi!!!",
        "Il film non è male, ma verso la fine diventa lento.",
        "Buongiorno, siete aperti la domenica?",
        "Oggetto: URGENTE - server di produzione down",
    ),
}

_IT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "code": (
        "Come si fa un ciclo for in {code_lang}?",
        "ciao mi aiuti con un codice python che calcola fibonacci",
        "Spiegami questo errore:\n{code}",
        "Scrivi una funzione in {code_lang} che {code_task}.",
        "Ho questo codice e non funziona, cosa c'è che non va?\n{code}",
        "Mi serve una query SQL che restituisca i 10 clienti con più ordini nell'ultimo mese.",
        "Che differenza c'è tra git merge e git rebase? Quando conviene usare l'uno o l'altro?",
        "Puoi fare una code review di questo snippet e dirmi cosa miglioreresti?\n{code}",
        "come faccio uno script bash che {code_task}",
        "Buonasera, sto imparando {code_lang} e non mi è chiaro come funzionano le classi. Mi farebbe un esempio "
        "semplice con i commenti?",
        "Dammi una regex per validare un codice fiscale italiano.",
        "Riscrivi questo codice in {code_lang}, per favore:\n{code}",
        "Cosa fa esattamente questo pezzo di codice?\n{code}",
        "Vorrei un programma che {code_task}, in {code_lang}, e che sia facile da leggere.",
    ),
    "math": (
        "Quanto fa il {pct}% di {a}?",
        "Risolvi {linear}",
        "Dimmi il risultato di {a} più {b}",
        "risolvi questa equazione passo passo: {quadratic}",
        "Calcola la derivata di {poly}",
        "Un paio di pantaloni costa {a} euro ed è scontato del {pct}%. Quanto pago alla fine?",
        "Un treno parte da {city} a 80 km/h e un altro parte due ore dopo a 120 km/h sullo stesso binario. "
        "Dopo quanto tempo lo raggiunge?",
        "Spiegami come si calcolano la media e la deviazione standard di questi numeri: 4, 8, 15, 16, 23, 42",
        "quanto fa {a} per {b}",
        "Qual è la probabilità di fare due 6 di fila lanciando un dado?",
        "Dimostra che la radice quadrata di 2 è irrazionale.",
        "Se investo {a} euro al {pct}% annuo con interesse composto, quanto avrò tra {n} anni?",
        "Quanti litri contiene una piscina lunga 8 m, larga 4 m e profonda 1,5 m?",
        "Salve! Mi aiuterebbe a calcolare l'integrale di {poly} tra 0 e 2?",
    ),
    "reasoning": (
        "Di che colore era il cavallo bianco di Napoleone?",
        "Se in una gara supero il secondo, in che posizione arrivo?",
        "Tutti i gatti sono mammiferi e alcuni mammiferi nuotano. Si può concludere che alcuni gatti nuotano? "
        "Motiva la risposta.",
        "Qual è l'intruso: mela, pera, carota, banana, uva?",
        "Indovinello: più ne togli, più diventa grande. Che cos'è?",
        "{name} ha più anni di Giada, e Giada ne ha più di Paolo. Chi è il più giovane?",
        "La mamma di Pierino ha tre figli: Qui, Quo e...? Come si chiama il terzo?",
        "Ho tre scatole: una con mele, una con arance e una mista, e tutte le etichette sono sbagliate. Pescando "
        "un solo frutto, come capisco cosa c'è in ciascuna?",
        "Cinque amici sono seduti in fila. Leo non è alle estremità, Emma è accanto a Leo e Dario è all'estrema "
        "sinistra. Quali posizioni sono possibili per ognuno?",
        "domanda trabocchetto: pesa di più un chilo di piume o un chilo di ferro?",
        "Se l'altro ieri era venerdì, che giorno sarà dopodomani?",
        "Un uomo guarda un ritratto e dice: «Non ho né fratelli né sorelle, ma il padre di quest'uomo è il figlio "
        "di mio padre». Chi c'è nel ritratto?",
        "Devo incastrare quattro persone in delle fasce orarie: Anna può solo la mattina, Bruno non può il lunedì "
        "e Carla deve venire prima di Dario. Con lunedì e martedì, mattina e pomeriggio, come li sistemo?",
    ),
    "extraction": (
        "Estrai tutti i nomi di persona e le date presenti in questo testo:\n\n{passage}",
        "Leggi qui e dimmi chi deve fare cosa:\n{passage}",
        "In base al testo seguente, quali importi vengono citati e a cosa si riferiscono? Rispondi solo con ciò "
        "che c'è nel testo.\n\n{passage}",
        "{passage}\n\nTirami fuori le cose da fare in un elenco.",
        "Da questa mail prendimi data, ora e luogo dell'appuntamento: «Ciao Giulia, confermato: martedì 12 alle 17 "
        "in sala 3, sede di Genova. Porta il portatile.»",
        "Estrai in JSON i campi nome, azienda e telefono: «Mi chiamo Andrea Greco, lavoro alla Trasporti Adriatica "
        "e il mio numero è 333 123 4567.»",
        "Usando solo le informazioni del paragrafo, qual è la causa principale indicata?\n\n{passage}",
        "mi tiri fuori numeri e percentuali da questo testo? {passage}",
        "Individua le organizzazioni e i luoghi nominati qui:\n{passage}",
        "Buongiorno, le passo un testo: mi servono soltanto le date che compaiono, senza commenti.\n\n{passage}",
        "Quali prodotti e prezzi ci sono in questo messaggio? «Confermo l'ordine: 3 sedie a 45 €, un tavolo a "
        "120 € e la spedizione a 15 €.»",
    ),
    "summarization": (
        "Riassumi questo testo in meno di 50 parole:\n\n{passage}",
        "TL;DR:\n{passage}",
        "Fammi una sintesi dei punti chiave:\n{passage}",
        "Mi riassumi I promessi sposi in un paragrafo?",
        "riassumimi sta roba in 2 frasi {passage}",
        "Riassumi la trama del film La vita è bella in poche righe.",
        "Mi serve un riassunto di questo report per {audience}:\n\n{passage}",
        "{passage}\n\nIn breve, di cosa parla?",
        "Quali sono i tre punti principali di questa mail?\n{passage}",
        "Condensa in una sola frase l'idea centrale:\n{passage}",
        "Fammi un riassunto veloce della Seconda guerra mondiale, giusto l'essenziale per l'interrogazione di domani.",
        "Riassumi la Divina Commedia in cinque righe.",
    ),
    "translation": (
        "Traduci in {lang_name}: {sentence}",
        "Come si dice «{sentence}» in {lang_name}?",
        "Traduci in italiano: {en_sentence}",
        "che vuol dire questa frase in italiano? {foreign}",
        "Potrebbe tradurre il testo seguente in {lang_name} mantenendo un registro formale?\n\n{passage}",
        "Mi serve questa frase in inglese per una mail: {sentence}",
        "traduzione pls: {en_sentence}",
        "Metti questo paragrafo in {lang_name}, è per un cliente:\n{passage}",
        "Come si dice «{thing}» in {lang_name}?",
        "Ciao, mi traduci questa frase? Non so nemmeno che lingua sia: {foreign}",
        "Versione italiana, per favore: {en_sentence}",
        "Traducila prima in {lang_name} e poi in inglese: {sentence}",
    ),
    "classification": (
        "Questa recensione è positiva o negativa? {item}",
        "Classifica questo messaggio come spam o non spam: {item}",
        "Di che argomento è questo titolo: politica, sport, economia, tecnologia o cultura?\n{item}",
        "Dimmi se questa frase è formale o informale: {sentence}",
        "Questo ticket è urgente? Rispondi sì o no.\n{item}",
        "Etichetta il sentiment (positivo, neutro, negativo):\n{item}",
        "classifica: {item}",
        "Sto smistando le mail dell'assistenza. In che categoria metteresti questa: reclamo, richiesta "
        "informazioni, reso o altro?\n\n{item}",
        "Analizza il sentiment di questo tweet e dammi solo l'etichetta: {item}",
        "Che emozione esprime questo commento: gioia, rabbia, tristezza o sorpresa? {item}",
        "Assegni una categoria (amministrazione, tecnico, commerciale) a questo messaggio: {item}",
    ),
    "creative_writing": (
        "Scrivi {form} a tema {topic}.",
        "Raccontami in 4 paragrafi la storia di un gatto che vive a {city}.",
        "Sei un esperto di marketing: scrivi una pubblicità per {thing}.",
        "fammi una poesia d'amore per {name}",
        "Scrivi una canzone di compleanno per {audience}, in rima e divertente.",
        "Raccontami una barzelletta sui programmatori.",
        "Mi serve un discorso di 3 minuti per il matrimonio di mio fratello, commovente ma con un po' di ironia.",
        "Scrivi un dialogo tra un robot e {audience} bloccati in un ascensore.",
        "Inventa uno slogan per un forno di {city}.",
        "Voglio un racconto horror breve ambientato in un borgo abbandonato dell'Appennino.",
        "Componi una lettera di saluto per un collega che va in pensione dopo 30 anni in azienda.",
        "Scrivi un tema dal titolo «{topic}», con introduzione, svolgimento e conclusione.",
        "Fai finta di essere un pirata del Seicento e raccontami la tua ultima avventura.",
    ),
    "brainstorming": (
        "Dammi qualche idea per dei post a tema {topic}.",
        "Hai qualche consiglio per migliorare nel disegno?",
        "Quali passi devo seguire per diventare data scientist?",
        "Consigliami dei libri di fantascienza per iniziare.",
        "Mi servono nomi per un negozio di abbigliamento vintage a {city}.",
        "idee regalo per {audience} sotto i 30 euro",
        "Cosa si può fare in un weekend a {city} con i bambini?",
        "Organizzo una cena per 10 persone e una è vegana. Che menù mi suggerisci?",
        "Preparami un piano di allenamento per correre 10 km in due mesi.",
        "Dammi 10 idee di contenuti Instagram a tema {topic}.",
        "Buongiorno, vorrei essere più produttivo lavorando da casa. Qualche suggerimento pratico?",
        "Che attività di team building si possono fare con {audience}?",
        "Brainstorming: modi per ridurre la plastica in ufficio.",
    ),
    "rewrite": (
        "Correggi ortografia e grammatica: {bad_sentence}",
        "Riscrivi questo testo con un tono {tone}:\n\n{passage}",
        "Parafrasa questa frase: {sentence}",
        "Accorcialo, per favore:\n{passage}",
        "Adatta questo paragrafo per {audience}:\n{passage}",
        "Trasforma questo testo in un elenco puntato:\n{passage}",
        "mi correggi questa frase? {bad_sentence}",
        "Può rendere più formale questa frase? {sentence}",
        "Migliora la forma di questa mail senza cambiarne il contenuto:\n\n{passage}",
        "Semplifica questo paragrafo, togli il superfluo:\n{passage}",
        "Rileggi il testo e correggi gli errori: «{bad_sentence}»",
        "Scrivila in un altro modo, con un tono {tone}: {sentence}",
    ),
    "open_qa": (
        "Che cos'è {concept}?",
        "Perché il cielo è blu?",
        "Spiegami come funzionano le reti neurali.",
        "Quali sono i colori primari?",
        "chi era garibaldi",
        "Che differenza c'è tra un virus e un batterio?",
        "Spiegami {concept} in modo semplice.",
        "Qual è la capitale dell'Australia?",
        "Perché a Ferragosto si fa festa?",
        "Che ne pensi dell'energia nucleare? È una buona idea?",
        "Come funziona un motore elettrico?",
        "Curiosità: perché i gatti fanno le fusa?",
        "Meglio vivere a {city} o in un paesino? Tu che dici?",
        "Quando è caduto il muro di Berlino e perché è stato così importante?",
    ),
}

ITALIAN = Lang(code="it", name="Italian", pools=_IT_POOLS, templates=_IT_TEMPLATES)

# ---------------------------------------------------------------------------------------------------------------
# Catalan ("thing" and "audience" avoid a leading masculine article, which would contract after "a" / "per a")
# ---------------------------------------------------------------------------------------------------------------

_CA_POOLS: dict[str, tuple[str, ...]] = {
    "topic": (
        "el teletreball",
        "l'alimentació saludable",
        "el canvi climàtic",
        "la intel·ligència artificial",
        "l'estalvi energètic",
        "les xarxes socials",
        "el turisme sostenible",
        "la salut mental",
        "el reciclatge",
        "l'educació a distància",
    ),
    "name": ("Jordi", "Montse", "Pau", "Laia", "Marc", "Núria", "Arnau", "Marta", "Oriol", "Mireia"),
    "city": ("Barcelona", "Girona", "Lleida", "Tarragona", "València", "Palma", "Reus", "Vic", "Manresa", "Sabadell"),
    "thing": (
        "una cafetera",
        "una bicicleta elèctrica",
        "un portàtil",
        "uns auriculars sense fil",
        "una fregidora d'aire",
        "un robot aspirador",
        "un mòbil plegable",
        "una rentadora",
        "una cadira d'oficina",
        "un rellotge intel·ligent",
    ),
    "audience": (
        "la meva àvia",
        "un nen de cinc anys",
        "uns treballadors nous",
        "una classe d'alumnes d'ESO",
        "un client enfadat",
        "la meva cap",
        "un grup de jubilats",
        "persones sense coneixements tècnics",
    ),
    "tone": (
        "formal",
        "més proper",
        "més persuasiu",
        "neutre",
        "més amable",
        "professional",
        "divertit",
        "més directe",
    ),
    "form": (
        "un poema",
        "un conte curt",
        "una cançó",
        "un sonet",
        "un haiku",
        "un microrelat",
        "una faula",
        "un rap",
        "una carta",
    ),
    "concept": (
        "la inflació",
        "la fotosíntesi",
        "un forat negre",
        "la cadena de blocs",
        "la relativitat",
        "l'efecte hivernacle",
        "la democràcia",
        "el sistema immunitari",
        "el tipus d'interès",
        "l'aprenentatge automàtic",
    ),
    "code_task": (
        "inverteixi una cadena",
        "llegeixi un fitxer CSV i sumi una columna",
        "comprovi si un nombre és primer",
        "ordeni una llista de diccionaris per data",
        "descarregui una pàgina web i compti les paraules",
        "validi una adreça de correu",
        "elimini els duplicats d'una llista",
        "calculi el factorial d'un nombre",
    ),
    "passage": (
        (
            "L'Ajuntament de Girona va anunciar ahir que a partir de l'1 de març el bus urbà serà gratuït per als "
            "menors de 18 anys. La mesura costarà uns 2 milions d'euros l'any i es finançarà en part amb fons "
            "europeus. Segons la regidora de Mobilitat, Anna Puig, l'ús del transport públic podria créixer un 12%. "
            "L'oposició critica que no s'hagi consultat el veïnat."
        ),
        (
            "Hola a tothom, us confirmo que la reunió amb el client de Lleida passa al dijous 14 a les 10.30. La Clara "
            "prepararà la presentació i l'Albert enviarà el pressupost actualitzat abans de dimecres. Si us plau, "
            "reviseu el contracte abans de la reunió i feu-me arribar els dubtes. Salutacions, Xavier."
        ),
        (
            "Acta de la reunió del 3 d'octubre. Assistents: Laura Vila, Pere Soler i Elena Serra. Es va acordar "
            "ajornar el llançament del web nou fins al novembre per problemes amb el proveïdor de pagaments. En Pere "
            "revisarà les proves de càrrega i l'Elena trucarà al proveïdor abans de divendres. La propera reunió serà "
            "el 10 d'octubre."
        ),
        (
            "Vaig comprar aquesta fregidora d'aire fa dos mesos per 89 euros i n'estic força content. Escalfa ràpid i "
            "les patates queden cruixents gairebé sense oli. El pitjor és que fa força soroll i la cistella és petita "
            "per a una família de quatre. El servei d'atenció al client em va respondre de seguida quan vaig tenir un "
            "dubte. Pel preu que té, la recomano."
        ),
        (
            "Les vendes del segon trimestre van créixer un 8% respecte al mateix període de l'any anterior, fins als "
            "2,3 milions d'euros. El creixement es deu sobretot a la botiga en línia, que ja representa el 40% de la "
            "facturació. Tanmateix, els costos logístics van pujar un 15%. La direcció proposa renegociar els "
            "contractes amb les empreses de transport."
        ),
        (
            "Un equip d'investigadors de la Universitat de Barcelona ha descobert una nova espècie d'escarabat al "
            "Pirineu. L'insecte, de només cinc mil·límetres, viu a més de 2.500 metres d'altitud. Els científics "
            "creuen que el canvi climàtic podria amenaçar el seu hàbitat en les pròximes dècades. La troballa s'ha "
            "publicat en una revista internacional d'entomologia."
        ),
        (
            "Benvolguts senyors, el 22 de gener vaig fer la comanda número 45872, que encara no he rebut. He trucat "
            "tres vegades al servei d'atenció al client i ningú no m'ha donat cap resposta. Us demano que em retorneu "
            "l'import de 64,90 euros o que m'envieu el producte aquesta setmana. Atentament, Carme Ferrer."
        ),
    ),
    "sentence": (
        "Demà tinc una reunió molt important amb el director.",
        "Saps on és l'estació de metro més propera?",
        "Voldríem reservar una taula per a quatre persones dissabte al vespre.",
        "El paquet arribarà entre dilluns i dimecres.",
        "M'encanta passejar per la platja quan fa bon temps.",
        "Si us plau, envieu-me la factura abans de divendres.",
        "La meva germana treballa d'infermera en un hospital de Barcelona.",
        "No vaig anar a classe perquè estava malalt.",
        "Aquest restaurant fa el millor arròs negre de la ciutat.",
        "Hem decidit ajornar el viatge fins a l'estiu.",
    ),
    "bad_sentence": (
        "Tenim que acabar el treball avans de divendres.",
        "Ahir vaig anar al mercat i vaig comprar tomates i pà.",
        "Hi han molts problemes que no sabem resoldre.",
        "Els nens estaven cansats perque van jugar tot el dia.",
        "La reunió a sigut molt llarga i avorrida.",
        "Bueno, doncs ens veiem demà a la tarde.",
        "Vull que me diguis la veritat, sisplau.",
        "Vaig rebre el teu correu però no el he llegit.",
        "No puc anar a la festa, es que tinc que estudiar.",
        "Em se va oblidar trucar-te, perdona.",
    ),
    "lang_name": (
        "anglès",
        "francès",
        "alemany",
        "castellà",
        "xinès",
        "japonès",
        "rus",
        "italià",
        "àrab",
        "portuguès",
    ),
    "item": (
        "La comanda ha arribat trencada i ningú no contesta el telèfon. Fatal.",
        "Enhorabona! Has guanyat un iPhone 15. Fes clic aquí per reclamar-lo.",
        "Assumpte: Reunió trimestral de resultats - dijous a les 10",
        "El Govern aprova una nova ajuda al lloguer per al 2025",
        "L'hotel és genial, el personal supersimpàtic i unes vistes increïbles 😍",
        "L'app no em funciona des de l'última actualització, necessito ajuda urgent",
        "El Barça remunta al darrer minut i passa a semifinals",
        "Préstec sense interessos aprovat a l'instant, només avui!!!",
        "La pel·lícula està bé, però se'm va fer una mica llarga.",
        "Bon dia, obriu diumenge?",
        "Assumpte: URGENT - caiguda del servidor de producció",
    ),
}

_CA_TEMPLATES: dict[str, tuple[str, ...]] = {
    "code": (
        "Com faig un bucle for en {code_lang}?",
        "hola m'ajudes amb un codi python que calculi fibonacci",
        "Explica'm aquest error:\n{code}",
        "Escriu una funció en {code_lang} que {code_task}.",
        "Tinc aquest codi i no funciona, què hi passa?\n{code}",
        "Necessito una consulta SQL que em torni els 10 clients amb més comandes de l'últim mes.",
        "Quina diferència hi ha entre git merge i git rebase? Quan he de fer servir cadascun?",
        "Revisa aquest codi i digues-me què milloraries:\n{code}",
        "com faig un script de bash que {code_task}",
        "Bona tarda. Estic aprenent {code_lang} i no acabo d'entendre com funcionen les classes. Em podria posar "
        "un exemple senzill amb comentaris?",
        "Dona'm una expressió regular per validar un codi postal de cinc xifres.",
        "Passa aquest codi a {code_lang}, si us plau:\n{code}",
        "Què fa exactament aquest fragment?\n{code}",
        "Vull un programa que {code_task}. El necessito en {code_lang} i que sigui fàcil de llegir.",
    ),
    "math": (
        "Quant és el {pct}% de {a}?",
        "Resol {linear}",
        "Digues-me quin és el resultat de sumar {a} i {b}",
        "resol aquesta equacio pas a pas: {quadratic}",
        "Calcula la derivada de {poly}",
        "Uns pantalons costen {a} euros i tenen un descompte del {pct}%. Quant pagaré al final?",
        "Un tren surt de {city} a 80 km/h i un altre surt dues hores després a 120 km/h per la mateixa via. "
        "Quant de temps triga a atrapar-lo?",
        "Explica'm com es calculen la mitjana i la desviació típica d'aquests nombres: 4, 8, 15, 16, 23, 42",
        "quant fa {a} per {b}",
        "Quina és la probabilitat de treure dos sisos seguits amb un dau?",
        "Demostra que l'arrel quadrada de 2 és irracional.",
        "Si poso {a} euros en un compte al {pct}% d'interès compost anual, quant tindré d'aquí a {n} anys?",
        "Quants litres hi caben en una piscina de 8 m de llarg, 4 m d'ample i 1,5 m de fondària?",
        "Bones! Em podeu ajudar a integrar {poly} entre 0 i 2?",
    ),
    "reasoning": (
        "De quin color és el cavall blanc de Sant Jordi?",
        "Si avanço el segon en una cursa, en quina posició quedo?",
        "Tots els gats són mamífers i alguns mamífers neden. Es pot concloure que alguns gats neden? Raona-ho.",
        "Quin és l'intrús: poma, pera, pastanaga, plàtan, raïm?",
        "Endevinalla: com més en treus, més gran es fa. Què és?",
        "{name} té més anys que l'Anna, i l'Anna en té més que en Lluís. Qui és el més jove?",
        "El pare de la Maria té cinc filles: Lala, Lele, Lili, Lolo... Com es diu la cinquena?",
        "Tinc tres capses: una amb pomes, una amb taronges i una amb totes dues, i totes les etiquetes estan "
        "malament. Traient una sola fruita, com sé què hi ha a cada capsa?",
        "Cinc amics seuen en fila. En Pol no és a cap extrem, la Júlia és al costat d'en Pol i en Joan és a "
        "l'esquerra de tot. Quines posicions són possibles per a cadascú?",
        "pregunta trampa: què pesa més, un quilo de plomes o un quilo de ferro?",
        "Si abans-d'ahir va ser divendres, quin dia serà demà passat?",
        "Un home mira un retrat i diu: «No tinc germans ni germanes, però el pare d'aquest home és el fill del meu "
        "pare.» Qui és al retrat?",
        "He de quadrar quatre persones en franges: l'Anna només pot al matí, en Biel no pot dilluns i la Carla ha "
        "d'anar abans que en David. Amb dilluns i dimarts, matí i tarda, com ho faig?",
    ),
    "extraction": (
        "Treu tots els noms de persones i les dates que surten en aquest text:\n\n{passage}",
        "Llegeix això i digues-me qui ha de fer què:\n{passage}",
        "Segons el text següent, quins imports es mencionen i a què corresponen? Respon només amb el que digui el "
        "text.\n\n{passage}",
        "{passage}\n\nExtreu les tasques pendents en forma de llista.",
        "D'aquest correu, treu-me la data, l'hora i el lloc de la reunió: «Hola, Laia: quedem dimarts 12 a les "
        "17 h a la sala 3 de l'oficina de Reus. Porta el portàtil.»",
        "Extreu en format JSON els camps nom, empresa i telèfon: «Em dic Andreu Pujol, treballo a Transports del "
        "Segre i el meu número és el 612 345 789.»",
        "Respon fent servir només la informació del paràgraf: quina és la causa principal que s'hi esmenta?"
        "\n\n{passage}",
        "em treus les xifres i els percentatges d'aquest text? {passage}",
        "Identifica les organitzacions i els llocs que s'anomenen aquí:\n{passage}",
        "Bon dia. Li passo un text i necessito que m'indiqui només les dates que hi apareixen, sense "
        "comentaris:\n\n{passage}",
        "Quins productes i preus surten en aquest missatge? «Us confirmo la comanda: 3 cadires a 45 €, una taula a "
        "120 € i l'enviament, 15 €.»",
    ),
    "summarization": (
        "Resumeix aquest text en menys de 50 paraules:\n\n{passage}",
        "TL;DR:\n{passage}",
        "Fes-me un resum dels punts clau:\n{passage}",
        "Em pots resumir Tirant lo Blanc en un paràgraf?",
        "resumeix-m'ho en 2 frases sisplau {passage}",
        "Resumeix l'argument de la pel·lícula Pa negre en poques línies.",
        "Necessito un resum executiu d'aquest informe per a {audience}:\n\n{passage}",
        "{passage}\n\nDe què va això, en poques paraules?",
        "Quins són els tres punts més importants d'aquest correu?\n{passage}",
        "Sintetitza en una sola frase la idea principal:\n{passage}",
        "Fes-me un resum ràpid de la Guerra Civil, només el que cal per a l'examen de demà.",
        "Resumeix Mecanoscrit del segon origen en cinc línies.",
    ),
    "translation": (
        "Tradueix aquesta frase en {lang_name}: {sentence}",
        "Com es diu «{sentence}» en {lang_name}?",
        "Tradueix al català: {en_sentence}",
        "què vol dir això en català? {foreign}",
        "Em podria traduir el text següent en {lang_name} mantenint un to formal?\n\n{passage}",
        "Necessito aquesta frase en anglès per a un correu: {sentence}",
        "tradueix: {en_sentence}",
        "Posa aquest paràgraf en {lang_name}, que és per a un client:\n{passage}",
        "Com es diu «{thing}» en {lang_name}?",
        "Hola, m'ajudes a traduir això? No sé ni quina llengua és: {foreign}",
        "Traducció al català, si us plau: {en_sentence}",
        "Tradueix-la primer en {lang_name} i després en anglès: {sentence}",
    ),
    "classification": (
        "Aquesta ressenya és positiva o negativa? {item}",
        "Classifica aquest missatge com a correu brossa o no: {item}",
        "De quin tema és aquest titular: política, esports, economia, tecnologia o cultura?\n{item}",
        "Digues-me si el text següent és formal o informal: {sentence}",
        "És urgent aquest tiquet de suport? Respon sí o no.\n{item}",
        "Etiqueta el sentiment (positiu, neutre, negatiu):\n{item}",
        "classifica això: {item}",
        "Estic ordenant els correus d'atenció al client. En quina categoria posaries aquest: queixa, consulta, "
        "devolució o altres?\n\n{item}",
        "Analitza el sentiment d'aquest tuit i dona'm només l'etiqueta: {item}",
        "Quina emoció expressa aquest comentari: alegria, enuig, tristesa o sorpresa? {item}",
        "Assigna una categoria (facturació, tècnic, comercial) a aquest missatge: {item}",
    ),
    "creative_writing": (
        "Escriu {form} sobre {topic}.",
        "Redacta una història de 4 paràgrafs sobre un gat que viu a {city}.",
        "Ets un expert en màrqueting: escriu un anunci per a {thing}.",
        "fes-me un poema d'amor, la meva parella es diu {name}",
        "Escriu una cançó d'aniversari per a {audience}, que rimi i sigui divertida.",
        "Explica'm un acudit sobre programadors.",
        "Necessito un discurs de 3 minuts per al casament del meu germà, emotiu però amb una mica d'humor.",
        "Escriu un diàleg entre un robot i {audience} atrapats en un ascensor.",
        "Inventa un eslògan per a un forn de pa de {city}.",
        "Vull un relat de terror curt que passi en un poble abandonat del Pirineu.",
        "Redacta una carta de comiat per a un company que es jubila després de 30 anys a l'empresa.",
        "Escriu una redacció sobre {topic} amb introducció, desenvolupament i conclusió.",
        "Fes veure que ets un pirata del segle XVII i explica'm la teva última aventura.",
    ),
    "brainstorming": (
        "Dona'm idees de publicacions sobre {topic}.",
        "Em pots donar algun consell per dibuixar millor?",
        "Quins passos he de seguir per fer-me científic de dades?",
        "Recomana'm llibres de ciència-ficció per començar.",
        "Necessito noms per a una botiga de roba de segona mà a {city}.",
        "idees de regal per a {audience} que no passin de 30 euros",
        "Què puc fer un cap de setmana a {city} amb nens?",
        "Organitzo un sopar per a 10 persones i una és vegana. Quin menú em proposes?",
        "Fes-me un pla d'entrenament per córrer 10 km en dos mesos.",
        "Dona'm 10 idees de contingut per a Instagram sobre {topic}.",
        "Bones, vull ser més productiu treballant des de casa. Algun consell pràctic?",
        "Quines activitats de team building es poden fer amb {audience}?",
        "Pluja d'idees: maneres de reduir el plàstic a l'oficina.",
    ),
    "rewrite": (
        "Corregeix l'ortografia i la gramàtica: {bad_sentence}",
        "Reescriu aquest text amb un to {tone}:\n\n{passage}",
        "Parafraseja aquesta frase: {sentence}",
        "Fes-lo més curt, si us plau:\n{passage}",
        "Adapta aquest paràgraf per a {audience}:\n{passage}",
        "Converteix aquest text en una llista de punts:\n{passage}",
        "corregeix-me això: {bad_sentence}",
        "Pots donar un to més formal a aquesta frase? {sentence}",
        "Millora la redacció d'aquest correu sense canviar-ne el contingut:\n\n{passage}",
        "Simplifica aquest paràgraf, treu-ne el que sobri:\n{passage}",
        "Revisa aquest text i corregeix-ne les errades: «{bad_sentence}»",
        "Escriu-ho d'una altra manera, amb un to {tone}: {sentence}",
    ),
    "open_qa": (
        "Què és {concept}?",
        "Per què el cel és blau?",
        "Explica'm com funcionen les xarxes neuronals.",
        "Quins són els colors primaris?",
        "qui va ser pau casals",
        "Quina diferència hi ha entre un virus i un bacteri?",
        "Explica {concept} a {audience}.",
        "Quina és la capital d'Austràlia?",
        "Per què per Sant Jordi es regalen roses i llibres?",
        "Què en penses, de l'energia nuclear? És bona idea?",
        "Com funciona un motor elèctric?",
        "Una pregunta: per què els gats fan el ronc-ronc?",
        "És millor viure a {city} o en un poble? Tu què en penses?",
        "Quan va caure el mur de Berlín i per què va ser tan important?",
    ),
}

CATALAN = Lang(code="ca", name="Catalan", pools=_CA_POOLS, templates=_CA_TEMPLATES)

LANGUAGES: tuple[Lang, ...] = (SPANISH, PORTUGUESE, FRENCH, ITALIAN, CATALAN)
