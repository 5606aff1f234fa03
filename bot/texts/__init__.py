"""What shoppers and managers read: the wording of a code, the notices jobs send, charts.

Presentation lives here, apart from the rules in `bot.promo`, so that the wording of a
code is one function and the sender renders notices without knowing the domain."""
