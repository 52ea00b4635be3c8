"""A small retrieval evaluation set written for voxgate: documents, questions and judgements.

English and Chinese passages on everyday science and history; each question lists the ids of the
documents that answer it. Used by ``bench.bench_rag`` (nDCG@10, recall@5) and by the tests.
"""

from __future__ import annotations

DOCUMENTS: dict[str, str] = {
    "photosynthesis": "Plants make their food by photosynthesis. Chlorophyll in the leaves "
    "captures sunlight, and the plant turns carbon dioxide and water into glucose, releasing "
    "oxygen as a by-product.",
    "tides": "Ocean tides are caused mainly by the gravitational pull of the Moon. The Sun's "
    "gravity also matters: when Sun and Moon line up, spring tides are higher than usual.",
    "vaccines": "A vaccine trains the immune system by showing it a harmless piece or a "
    "weakened form of a germ, so that the body makes antibodies before a real infection.",
    "printing_press": "Johannes Gutenberg built a printing press with movable metal type in "
    "Mainz around 1450. Books became cheaper and ideas spread quickly across Europe.",
    "great_wall": "The Great Wall was built over many centuries by Chinese dynasties to guard "
    "the northern frontier. Most of the wall standing today dates from the Ming dynasty.",
    "honey_bees": "A honey bee colony has one queen, thousands of female workers and a few "
    "male drones. Workers gather nectar and pollen and store honey in wax combs.",
    "volcanoes": "Volcanoes form where molten rock called magma reaches the surface. Eruptions "
    "release lava, ash and gases; Mount Vesuvius buried Pompeii in the year 79.",
    "black_holes": "A black hole is a region where gravity is so strong that nothing, not even "
    "light, can escape. Stellar black holes form when very massive stars collapse.",
    "coffee": "Coffee comes from the roasted seeds of the Coffea plant. Its caffeine blocks "
    "adenosine receptors in the brain, which is why it makes people feel alert.",
    "antibiotics": "Antibiotics kill bacteria or stop them from growing. Alexander Fleming "
    "discovered penicillin in 1928 when mould killed bacteria on a culture plate.",
    "rainbows": "A rainbow appears when sunlight is refracted, reflected and dispersed inside "
    "raindrops, splitting white light into its colours from red to violet.",
    "earthquakes": "Earthquakes happen when stress along a fault in the Earth's crust is "
    "suddenly released. Seismometers record the waves, and magnitude measures the energy.",
    "owls": "Owls are nocturnal birds of prey. Soft feathers make their flight almost silent, "
    "and their asymmetric ears let them locate mice in complete darkness.",
    "silk_road": "The Silk Road was a network of trade routes linking China with Central Asia, "
    "Persia and the Mediterranean, carrying silk, spices, paper and ideas.",
    "tea_zh": "绿茶是中国最古老的茶类之一。龙井茶产自浙江杭州西湖一带，以色绿、香郁、味甘、形美著称。",
    "panda_zh": "大熊猫主要生活在中国四川、陕西和甘肃的山区竹林中，每天要吃大量竹子，是中国的国宝。",
    "paper_zh": "东汉时期的蔡伦改进了造纸术，用树皮、麻头、破布和旧渔网造纸，使纸张更加便宜易得。",
    "moon_festival_zh": "中秋节在农历八月十五，人们赏月、吃月饼，象征家人团圆。",
    "yangtze_zh": "长江是中国第一长河，全长约六千三百公里，流经青藏高原、四川盆地和长江中下游平原，最终注入东海。",
    "acupuncture_zh": "针灸是中医的传统疗法，用细针刺激人体的穴位，用来缓解疼痛和调理身体。",
}

#: question -> ids of the documents that answer it
QUERIES: dict[str, list[str]] = {
    "How do plants turn sunlight into food?": ["photosynthesis"],
    "What causes the tides in the ocean?": ["tides"],
    "How does a vaccine protect the body?": ["vaccines"],
    "Who invented movable type printing in Europe?": ["printing_press"],
    "Which dynasty built most of the Great Wall we see today?": ["great_wall"],
    "How many queens does a bee colony have?": ["honey_bees"],
    "What destroyed Pompeii?": ["volcanoes"],
    "Why can't light escape a black hole?": ["black_holes"],
    "Why does caffeine make you feel awake?": ["coffee"],
    "Who discovered penicillin?": ["antibiotics"],
    "Why do rainbows have colours?": ["rainbows"],
    "What do seismometers measure?": ["earthquakes"],
    "How do owls hunt in the dark?": ["owls"],
    "What goods travelled along the Silk Road?": ["silk_road"],
    "Which medicine kills bacteria?": ["antibiotics"],
    "What does the Moon's gravity do to the sea?": ["tides"],
    "龙井茶产自哪里？": ["tea_zh"],
    "大熊猫吃什么？": ["panda_zh"],
    "谁改进了造纸术？": ["paper_zh"],
    "中秋节人们吃什么？": ["moon_festival_zh"],
    "中国最长的河流是哪条？": ["yangtze_zh"],
    "针灸有什么作用？": ["acupuncture_zh"],
}
