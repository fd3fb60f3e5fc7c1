"""The contract suite's harness for the ccxt broker: :class:`FakeBinance` and the real adapter."""

from __future__ import annotations

from decimal import Decimal

from alphaforge.data.sources.ccxt_source import make_exchange
from alphaforge.execution.brokers.ccxt import CcxtBroker
from alphaforge.testing.fake_binance import FakeBinance
from alphaforge.testing.fake_binance_records import FakeMarket


class BinanceHarness:
    """The contract suite's harness: the fake exchange and the real ccxt broker on it.

    ``with BinanceHarness(symbols=("BTC-USD",)) as h:`` starts :class:`FakeBinance`, lists a
    ``<BASE>USDT`` market for each symbol it does not know yet, and builds
    :class:`~alphaforge.execution.brokers.ccxt.CcxtBroker` against it (sandbox on, endpoints
    pointed at the fake, the polling stream at 0.05 s, no real backoff sleeps).
    """

    def __init__(
        self,
        symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD"),
        *,
        balances: dict[str, float] | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.symbols = symbols
        self.fake = FakeBinance(balances=balances)
        self._poll_s = poll_s
        self._broker: CcxtBroker | None = None

    def __enter__(self) -> BinanceHarness:
        self.fake.start()
        for symbol in self.symbols:
            base = _base_of(symbol)
            if f"{base}USDT" not in self.fake.market_ids():
                self.fake.add_market(FakeMarket(f"{base}USDT", base, "USDT", Decimal("100")))
        exchange = make_exchange(
            "binance",
            url=self.fake.url,
            sandbox=True,
            api_key=self.fake.api_key,
            secret=self.fake.secret,
            timeout_s=2.0,
        )
        self._broker = CcxtBroker(
            exchange,
            symbols=self.symbols,
            submit_timeout_s=2.0,
            read_timeout_s=2.0,
            read_retries=2,
            poll_s=self._poll_s,
            sleep=lambda _s: None,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._broker is not None:
            self._broker.close()
        self.fake.stop()

    @property
    def broker(self) -> CcxtBroker:
        """Return the :class:`~alphaforge.execution.brokers.ccxt.CcxtBroker` under test."""
        if self._broker is None:
            raise RuntimeError("BinanceHarness is not entered")
        return self._broker

    def market_id(self, symbol: str) -> str:
        """Return the fake's market id of a project symbol (``BTC-USD`` -> ``BTCUSDT``)."""
        return f"{_base_of(symbol)}USDT"

    def set_price(self, symbol: str, price: float) -> None:
        """Move the price of ``symbol`` (project spelling); crossed limit orders fill."""
        self.fake.set_price(self.market_id(symbol), price)

    def settle(self) -> None:
        """Deliver what happened: the fake applies changes at once; each stream polls once."""
        for stream in self.broker.streams():
            stream.poll()


def _base_of(symbol: str) -> str:
    text = symbol.upper()
    for sep in ("/", "-", "_"):
        if sep in text:
            return text.split(sep)[0]
    return text.removesuffix("USDT")


__all__ = ["BinanceHarness"]
