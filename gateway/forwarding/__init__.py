"""Server-side forwarding (issue 11): events the container sends to `POST /collect`, checked against the
visitor's signed consent by the gateway itself, kept in a durable outbox, delivered to the vendors'
conversion APIs (Meta Conversions API, TikTok Events API, GA4 Measurement Protocol).

- `event`: the values that cross module boundaries (what was accepted, what goes out, what came back).
- `vendors/`: one module per vendor API, pure functions from an accepted event to an HTTP request and from
  the vendor's answer to an outcome. No I/O there, so they are tested without a network.
- `privacy`: the per-vendor privacy transforms (IP, user agent, URLs, hashed e-mail and phone).
"""
