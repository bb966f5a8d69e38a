"""What the agent values, drawn beside a video frame.

A policy (rlkit/eval_policies.py) returns, with its action for one observation, the numbers it
acted on as one of the panel records below; ``PanelDrawer`` draws a record into an RGB image of
a fixed size. The records are the numbers drawn, so a test can hold them against the network.

* ``ActionValuesPanel``: Q(s, a) per action (DQN), or the Boltzmann probabilities softmax(Q / T)
* ``QuantilesPanel``: the return distribution Z(s, a) of each action at a fixed tau grid (IQN),
  with the value the policy ranked the actions by (its sampled, risk-distorted taus)
* ``GaussianPanel``: the Gaussian policy's mean and std per action dimension (PPO; SAC's before
  its tanh), in the env's units, with the action sent

Drawing is Pillow on a numpy canvas with matplotlib's DejaVu Sans, cheap enough for every frame
of an episode. The chosen action's row is highlighted and its marker orange.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# colours (RGB)
BACKGROUND = (250, 250, 248)
TEXT = (30, 30, 30)
MUTED = (120, 120, 120)
BAR = (96, 140, 190)
BAR_LIGHT = (190, 210, 232)
CHOSEN = (235, 120, 20)
CHOSEN_ROW = (255, 240, 214)
GRID = (215, 215, 215)


@dataclass(frozen=True)
class ActionValuesPanel:
    """Q-values (DQN) for one observation; with ``probabilities`` the Boltzmann policy's."""

    title: str  # e.g. "Q-values, epsilon-greedy (epsilon 0.001)"
    q_values: np.ndarray  # [A] float32, Q(s, a) as the policy computed it
    chosen: int  # the action taken
    probabilities: np.ndarray | None = None  # [A] softmax(Q / T) when the policy is Boltzmann
    explored: bool = False  # the action was drawn at random (epsilon), not the greedy one


@dataclass(frozen=True)
class QuantilesPanel:
    """IQN's return distribution for one observation."""

    title: str
    taus: np.ndarray  # [N] the fixed grid, (i + 0.5) / N
    quantiles: np.ndarray  # [N, A] float32, Z(s, a) at each tau of the grid
    scores: np.ndarray  # [A] what the policy ranked actions by: mean Z over its sampled (distorted) taus
    chosen: int
    explored: bool = False


@dataclass(frozen=True)
class GaussianPanel:
    """A Gaussian policy's action distribution for one observation: PPO's Gaussian, or SAC's Gaussian
    before its tanh (``squashed``). Drawn in the env's units: an interval of the policy's units maps
    onto the env's through the (monotone) squash and the affine map, so the bars of mean +- std and
    mean +- 2 std keep their 68 % and 95 % of the action's probability either way; the line is
    f(mean), the squashed distribution's median (its mean is not f(mean))."""

    title: str
    mean: np.ndarray  # [A] float32, the policy's mean in its own units (network output; SAC: before the tanh)
    std: np.ndarray  # [A] float32, exp(log_std) in the policy's units
    action: np.ndarray  # [A] float32, the action sent to the env (env units)
    low: np.ndarray  # [A] the env's action bounds
    high: np.ndarray  # [A]
    center: np.ndarray | None = None  # [A] policy units -> env units: center + x * half_range (None: identity)
    half_range: np.ndarray | None = None  # [A]
    squashed: bool = False  # SAC: the policy's action is tanh(x) of the Gaussian's x

    def to_env_units(self, x: np.ndarray) -> np.ndarray:
        """Policy units [A] (before any squash) -> env units [A], unclipped."""
        x = np.tanh(x) if self.squashed else x
        return x if self.center is None else self.center + x * self.half_range

    def interval_in_env_units(self, num_std: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower [A], upper [A]) of mean -+ num_std * std, in the env's units."""
        return self.to_env_units(self.mean - num_std * self.std), self.to_env_units(self.mean + num_std * self.std)


Panel = Union[ActionValuesPanel, QuantilesPanel, GaussianPanel]


@lru_cache(maxsize=None)
def _font(size: int, bold: bool = False) -> ImageFont.ImageFont:
    try:
        from matplotlib import font_manager

        path = font_manager.findfont("DejaVu Sans:bold" if bold else "DejaVu Sans", fallback_to_default=True)
        return ImageFont.truetype(path, size)
    except Exception:  # noqa: BLE001 - no matplotlib font: Pillow's own
        return ImageFont.load_default(size)


def _fmt(value: float, span: float | None = None) -> str:
    """A number for the panel: 2 decimals, more when ``span`` (the range shown) is small, none when large."""
    magnitude = max(abs(value), span or 0.0)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    decimals = 2 if not span else int(np.clip(1 - np.floor(np.log10(span)), 2, 4))
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


class TextStamps:
    """Rendered text, kept: a panel redraws the same labels every frame and FreeType rendering is
    most of a frame's cost. ``stamp(image, xy, text, font, fill, anchor)`` pastes a cached mask."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._masks: dict[tuple, tuple[Image.Image, int, int]] = {}

    def stamp(self, image: Image.Image, xy: tuple[float, float], text: str, font: ImageFont.ImageFont,
              fill: tuple[int, int, int], anchor: str = "la") -> None:
        key = (text, id(font), anchor)
        found = self._masks.get(key)
        if found is None:
            left, top, right, bottom = font.getbbox(text, anchor=anchor)
            mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
            ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font, anchor=anchor)
            if len(self._masks) >= self.max_entries:
                self._masks.clear()
            found = self._masks[key] = (mask, left, top)
        mask, left, top = found
        image.paste(fill, (int(round(xy[0])) + left, int(round(xy[1])) + top), mask)


class PanelDrawer:
    """Draws panel records into ``[height, width, 3]`` uint8 images, one action (dimension) a row."""

    HEADER_PX = 64
    FOOTER_PX = 46  # the value axis, then a line saying what is drawn
    LABEL_PX = 138  # action names, right-aligned
    VALUE_PX = 78  # numbers at the right
    MAX_ROW_PX = 56  # a few actions get rows of this height, from the top

    def __init__(self, height: int, width: int, action_names: list[str] | None) -> None:
        self.height, self.width = height, width
        self.action_names = action_names
        self.title_font = _font(15, bold=True)
        self.caption_font = _font(13)
        self.small_font = _font(11)
        self.stamps = TextStamps()
        self._image: Image.Image | None = None

    def names(self, count: int) -> list[str]:
        if self.action_names is not None and len(self.action_names) == count:
            return list(self.action_names)
        return [f"action {i}" for i in range(count)]

    # ---------------------------------------------------------------------------- layout

    def _rows(self, count: int) -> tuple[list[int], int]:
        """Top y of each row and the row height."""
        top, bottom = self.HEADER_PX, self.height - self.FOOTER_PX
        row = min(max((bottom - top) // max(count, 1), 8), self.MAX_ROW_PX)
        return [top + i * row for i in range(count)], row

    def _x(self, values: np.ndarray, lo: float, hi: float) -> np.ndarray:
        left, right = self.LABEL_PX + 10, self.width - self.VALUE_PX - 6
        fraction = np.clip((np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        return left + fraction * (right - left)

    def _text(self, xy: tuple[float, float], text: str, fill: tuple[int, int, int], font: ImageFont.ImageFont,
              anchor: str = "la") -> None:
        self.stamps.stamp(self._image, xy, text, font, fill, anchor)

    def _start(self, title: str, caption: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        image = self._image = Image.new("RGB", (self.width, self.height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        self._text((10, 8), title, fill=TEXT, font=self.title_font)
        self._text((10, 32), caption, fill=TEXT, font=self.caption_font)
        draw.line([(0, self.HEADER_PX - 6), (self.width, self.HEADER_PX - 6)], fill=GRID, width=1)
        return image, draw

    def _row_frame(self, draw: ImageDraw.ImageDraw, names: list[str], chosen: int) -> tuple[list[int], int]:
        tops, row = self._rows(len(names))
        label_font = self.caption_font if row >= 18 else self.small_font
        for i, (name, top) in enumerate(zip(names, tops)):
            if i == chosen:
                draw.rectangle([0, top, self.width, top + row - 1], fill=CHOSEN_ROW)
            self._text((self.LABEL_PX, top + row / 2), name, fill=CHOSEN if i == chosen else TEXT,
                      font=label_font, anchor="rm")
        return tops, row

    def _axis(self, draw: ImageDraw.ImageDraw, lo: float, hi: float, label: str) -> None:
        y = self.height - self.FOOTER_PX + 6
        x0, x1 = self._x(np.array([lo, hi]), lo, hi)
        draw.line([(x0, y), (x1, y)], fill=MUTED, width=1)
        for x, value, anchor in ((x0, lo, "la"), (x1, hi, "ra")):
            draw.line([(x, y - 3), (x, y + 3)], fill=MUTED, width=1)
            self._text((x, y + 4), _fmt(value, hi - lo), fill=MUTED, font=self.small_font, anchor=anchor)
        self._axis_note(draw, label)

    def _axis_note(self, draw: ImageDraw.ImageDraw, text: str) -> None:
        self._text((10, self.height - 8), text, fill=MUTED, font=self.small_font, anchor="ls")

    # ----------------------------------------------------------------------------- panels

    def draw(self, panel: Panel, caption: str = "") -> np.ndarray:
        """The panel as ``[height, width, 3]`` uint8; ``caption``: a line under the title (step, return)."""
        if isinstance(panel, ActionValuesPanel):
            image = self._action_values(panel, caption)
        elif isinstance(panel, QuantilesPanel):
            image = self._quantiles(panel, caption)
        elif isinstance(panel, GaussianPanel):
            image = self._gaussian(panel, caption)
        else:
            raise TypeError(f"no drawing for a {type(panel).__name__}")
        return np.asarray(image, dtype=np.uint8)

    def _action_values(self, panel: ActionValuesPanel, caption: str) -> Image.Image:
        names = self.names(len(panel.q_values))
        how = "random (epsilon)" if panel.explored else "greedy"
        if panel.probabilities is not None:
            how = "sampled"
        image, draw = self._start(panel.title, f"{caption}   action: {names[panel.chosen]} ({how})".strip())
        tops, row = self._row_frame(draw, names, panel.chosen)
        bar_h = max(int(row * 0.62), 3)
        if panel.probabilities is not None:  # probabilities on [0, 1], Q as the number
            lo, hi, lengths = 0.0, 1.0, panel.probabilities
            numbers = [f"{p:.2f}" for p in panel.probabilities]
            axis = "probability softmax(Q / T) · number: the probability"
        else:  # Q-values on an axis that starts a little below the smallest
            q = np.asarray(panel.q_values, dtype=np.float64)
            span = max(float(q.max() - q.min()), 1e-6)
            lo, hi = float(q.min()) - 0.25 * span, float(q.max()) + 0.02 * span
            lengths, numbers = q, [_fmt(v, span) for v in q]
            axis = "Q(s, a)"
        x_end = self._x(lengths, lo, hi)
        x_start = self._x(np.array([lo]), lo, hi)[0]
        greedy = int(np.argmax(panel.q_values))
        for i, top in enumerate(tops):
            y0 = top + (row - bar_h) / 2
            colour = CHOSEN if i == panel.chosen else BAR
            draw.rectangle([x_start, y0, max(x_end[i], x_start + 1), y0 + bar_h], fill=colour)
            font = (self.title_font if i == greedy and row >= 16
                    else self.caption_font if row >= 18 else self.small_font)
            self._text((self.width - 6, top + row / 2), numbers[i], fill=TEXT, font=font, anchor="rm")
        self._axis(draw, lo, hi, axis + " · bold: the highest Q" if panel.probabilities is None else axis)
        return image

    def _quantiles(self, panel: QuantilesPanel, caption: str) -> Image.Image:
        quantiles = np.asarray(panel.quantiles, dtype=np.float64)  # [N, A]
        names = self.names(quantiles.shape[1])
        how = "random (epsilon)" if panel.explored else "greedy"
        image, draw = self._start(panel.title, f"{caption}   action: {names[panel.chosen]} ({how})".strip())
        tops, row = self._row_frame(draw, names, panel.chosen)
        lo, hi = float(min(quantiles.min(), panel.scores.min())), float(max(quantiles.max(), panel.scores.max()))
        pad = 0.04 * max(hi - lo, 1e-6)
        lo, hi = lo - pad, hi + pad
        taus = np.asarray(panel.taus)
        q25, q75 = (int(np.argmin(np.abs(taus - t))) for t in (0.25, 0.75))
        q05, q95 = (int(np.argmin(np.abs(taus - t))) for t in (0.05, 0.95))
        dot = max(min(row // 8, 3), 1)
        for i, top in enumerate(tops):
            mid = top + row / 2
            sorted_q = np.sort(quantiles[:, i])  # the grid's quantiles are monotone up to the net's error
            colour, light = (CHOSEN, (248, 200, 150)) if i == panel.chosen else (BAR, BAR_LIGHT)
            x = self._x(sorted_q, lo, hi)
            draw.line([(x[q05], mid), (x[q95], mid)], fill=colour, width=1)  # 5-95 %
            box_h = max(int(row * 0.30), 2)
            draw.rectangle([x[q25], mid - box_h, max(x[q75], x[q25] + 1), mid + box_h], fill=light, outline=colour)
            for xi in x:  # every quantile of the grid
                draw.ellipse([xi - dot, mid - dot, xi + dot, mid + dot], fill=colour)
            xs = self._x(np.array([panel.scores[i]]), lo, hi)[0]  # the policy's value: a triangle under the row
            tri = max(min(row // 4, 6), 3)
            draw.polygon([(xs, mid + box_h), (xs - tri, mid + box_h + tri + 1), (xs + tri, mid + box_h + tri + 1)],
                         fill=TEXT)
            self._text((self.width - 6, mid), _fmt(float(panel.scores[i]), hi - lo), fill=TEXT,
                      font=self.caption_font if row >= 18 else self.small_font, anchor="rm")
        self._axis(draw, lo, hi, f"return Z(s, a) at {len(taus)} taus: dots, box 25-75 %, line 5-95 % ·"
                                 " ▲, number: the value the policy ranks by")
        return image

    def _gaussian(self, panel: GaussianPanel, caption: str) -> Image.Image:
        names = self.names(len(panel.mean))
        image, draw = self._start(panel.title, caption)
        tops, row = self._row_frame(draw, names, chosen=-1)
        one_lo, one_hi = panel.interval_in_env_units(1.0)  # [A], [A]
        two_lo, two_hi = panel.interval_in_env_units(2.0)
        median = panel.to_env_units(panel.mean)  # [A]
        for i, top in enumerate(tops):
            lo, hi = float(panel.low[i]), float(panel.high[i])
            mid = top + row / 2
            band = max(int(row * 0.28), 2)
            x_lo, x_hi = self._x(np.array([lo, hi]), lo, hi)
            draw.line([(x_lo, mid), (x_hi, mid)], fill=GRID, width=1)
            x0 = self._x(np.array([0.0]), lo, hi)[0] if lo < 0 < hi else None
            if x0 is not None:
                draw.line([(x0, mid - band - 2), (x0, mid + band + 2)], fill=MUTED, width=1)
            two = self._x(np.array([two_lo[i], two_hi[i]]), lo, hi)
            one = self._x(np.array([one_lo[i], one_hi[i]]), lo, hi)
            draw.rectangle([two[0], mid - band / 2, max(two[1], two[0] + 1), mid + band / 2], fill=BAR_LIGHT)
            draw.rectangle([one[0], mid - band, max(one[1], one[0] + 1), mid + band], fill=BAR)
            xm = self._x(np.array([median[i]]), lo, hi)[0]
            draw.line([(xm, mid - band - 3), (xm, mid + band + 3)], fill=TEXT, width=2)
            xa = self._x(np.array([panel.action[i]]), lo, hi)[0]
            tri = max(min(row // 4, 7), 3)
            draw.polygon([(xa, mid - band - 1), (xa - tri, mid - band - tri - 3), (xa + tri, mid - band - tri - 3)],
                         fill=CHOSEN)
            self._text((self.width - 6, mid), _fmt(float(panel.action[i])), fill=CHOSEN,
                      font=self.caption_font if row >= 18 else self.small_font, anchor="rm")
            if row >= 30:
                self._text((x_lo, mid + band + 2), _fmt(lo), fill=MUTED, font=self.small_font, anchor="la")
                self._text((x_hi, mid + band + 2), _fmt(hi), fill=MUTED, font=self.small_font, anchor="ra")
        if panel.squashed:
            self._axis_note(draw, "row: action range · bar: tanh(mean ± std), light: ± 2 std"
                                  " · line: tanh(mean) · ▼ and number: action")
        else:
            self._axis_note(draw, "row: the env's action range · bar: mean ± std (light: ± 2 std)"
                                  " · line: mean · ▼, number: action sent")
        return image


def compose_frame(frame: np.ndarray, panel_image: np.ndarray | None, scale: int = 1) -> np.ndarray:
    """The env's RGB frame ``[h, w, 3]`` scaled by ``scale`` (nearest), with the panel image on its
    right; the result is cropped to even sides (H.264's 4:2:0 needs them)."""
    h, w = frame.shape[:2]
    big = frame
    if scale > 1:  # one copy: [h, 1, w, 1, 3] broadcast to [h, s, w, s, 3]
        big = np.broadcast_to(frame[:, None, :, None, :], (h, scale, w, scale, 3)).reshape(h * scale, w * scale, 3)
    if panel_image is not None:
        if panel_image.shape[0] != big.shape[0]:  # pad the shorter one with the panel's background
            height = max(big.shape[0], panel_image.shape[0])
            big, panel_image = (np.concatenate([a, np.full((height - a.shape[0], a.shape[1], 3), BACKGROUND,
                                                          np.uint8)]) if a.shape[0] < height else a
                                for a in (big, panel_image))
        big = np.concatenate([big, panel_image], axis=1)  # [H, W + panel width, 3]
    height, width = big.shape[0] - big.shape[0] % 2, big.shape[1] - big.shape[1] % 2
    return np.ascontiguousarray(big[:height, :width], dtype=np.uint8)
