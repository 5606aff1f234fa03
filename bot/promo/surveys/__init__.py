"""Surveys: a short question sent to customers as a Telegram poll, their answers, and what
answering earns — the playbook's "ask customers which reward they would like".

`surveys` makes, sends (through the outbox), closes and sums them up; `answers` takes
each `poll_answer` update, stores it per customer and pays the reward once.
"""
