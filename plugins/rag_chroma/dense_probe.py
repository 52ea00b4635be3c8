"""How well the embedding model reads a question's script, measured once per engine.

An English-only model (all-MiniLM-L6-v2, the shipped default) maps Chinese text to vectors that
carry little of its meaning: its nearest chunks are close to random, and a hybrid search that
trusts them loses to BM25 alone. A few question/answer pairs per script that share no words are
embedded once; how many questions find their own answer, above chance, is the share of the say
the dense side may have for questions in that script (0: no better than chance, 1: all found).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import numpy as np

from core.engines.embeddings import InputType
from core.text.script import is_cjk

Script = Literal["cjk", "other"]
#: Below this the model finds fewer than about half the answers above chance for a script.
WEAK_ABILITY = 0.5
Embed = Callable[[list[str], InputType], Awaitable[list[list[float]]]]

# Questions and the passages that answer them, written without each other's words.
PROBES: dict[Script, tuple[tuple[str, str], ...]] = {
    "cjk": (
        ("我的快递怎么还没收到", "包裹一般五个工作日内送达，物流信息可在订单页查看。"),
        ("忘了账号口令，进不去", "点击找回密码，凭手机验证码即可设置新的登录凭证。"),
        ("这个月被多扣了钱", "重复支付的款项将在核实后原路退回。"),
        ("小孩晚上偷偷玩平板", "家长可以设定每日使用时段，到点自动锁定屏幕。"),
        ("屋里暖气不热", "供热期室温低于标准时，可致电热力公司上门检修。"),
        ("外面下大雨航班会取消吗", "恶劣天气导致停飞时，机场会通过短信通知旅客改签。"),
    ),
    "other": (
        (
            "how long until my package gets here",
            "Parcels reach you within five working days; follow them with the tracking number.",
        ),
        (
            "I forgot how to sign in",
            "Choose reset password and follow the emailed link to set a new one.",
        ),
        (
            "I was billed twice this month",
            "Duplicate payments are refunded to the original card once verified.",
        ),
        (
            "stop my kid using the tablet at night",
            "Parents can set daily screen hours after which the device locks.",
        ),
        (
            "the radiators are cold",
            "If indoor temperature falls below the standard during heating season, call the "
            "heat company.",
        ),
        (
            "will storms ground my flight",
            "When bad weather cancels departures, the airport texts passengers about rebooking.",
        ),
    ),
}


def script_of(text: str) -> Script:
    """``cjk`` when at least half of the letters are CJK."""
    letters = [c for c in text if c.isalpha()]
    cjk = sum(1 for c in letters if is_cjk(c))
    return "cjk" if letters and 2 * cjk >= len(letters) else "other"


def ability(questions: list[list[float]], answers: list[list[float]]) -> float:
    """Share of questions whose nearest answer is their own, rescaled so chance is 0."""
    q = np.asarray(questions, dtype=np.float64)
    a = np.asarray(answers, dtype=np.float64)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    count = len(q)
    found = int(np.sum(np.argmax(q @ a.T, axis=1) == np.arange(count)))
    chance = 1 / count
    return max(0.0, (found / count - chance) / (1 - chance))


async def measure(embed: Embed) -> dict[Script, float]:
    """The dense side's ability per script, from the embeddings engine behind ``embed``."""
    result: dict[Script, float] = {}
    for script, pairs in PROBES.items():
        questions = await embed([q for q, _ in pairs], "query")
        answers = await embed([a for _, a in pairs], "document")
        result[script] = ability(questions, answers)
    return result
