"""Texts in several languages, long enough for confident language id."""

ENGLISH = (
    "The river authority published a detailed survey of the northern coast after months of "
    "careful work. Engineers measured the water level at forty stations and compared the "
    "results with records that have been kept since the nineteenth century. The report will "
    "be discussed at the next meeting of the council, and residents are invited to attend."
)
GERMAN = (
    "Die Flussbehörde hat nach monatelanger Arbeit eine ausführliche Untersuchung der "
    "nördlichen Küste veröffentlicht. Ingenieure haben den Wasserstand an vierzig Stationen "
    "gemessen und die Ergebnisse mit Aufzeichnungen aus dem neunzehnten Jahrhundert verglichen."
)
CHINESE = (
    "河流管理局经过几个月的认真工作，发布了一份关于北部海岸的详细调查报告。工程师们在四十个站点测量了"
    "水位，并将结果与十九世纪以来保存的记录进行了比较。该报告将在下一次理事会会议上讨论，欢迎居民参加。"
)
RUSSIAN = (
    "После нескольких месяцев тщательной работы управление реки опубликовало подробное "
    "исследование северного побережья. Инженеры измерили уровень воды на сорока станциях и "
    "сравнили результаты с записями, которые ведутся с девятнадцатого века."
)
