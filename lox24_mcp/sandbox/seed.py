"""Demo data: three groups and a postbox of scheduled, sent and cancelled SMS, relative to the state's clock.

The numbers use a `0000` block so they look real but belong to nobody; contents are deterministic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lox24_mcp.lox24 import times

if TYPE_CHECKING:
    from lox24_mcp.sandbox.state import SandboxState

#: The demo shop's zone: its SMS are scheduled on Berlin's clock (`lox24-mcp --sandbox` shows times in it).
SHOP_ZONE = ZoneInfo("Europe/Berlin")

DAY = 86_400
HOUR = 3_600

#: The spring-sale campaign's bulk id (fixed, so demos and docs can name it).
SPRING_SALE_BULK_ID = "5b1d2c3e-4f50-4a6b-9c7d-8e9f0a1b2c3d"
SPRING_SALE_TEXT = "Spring sale: 20% off everything until Sunday! Show this SMS in store. Reply STOP to opt out."

_VIP = [
    {"phone": "+4915100001001", "a": "Frau", "b": "Müller", "c": "Gold"},
    {"phone": "+436640001002", "a": "Herr", "b": "Gruber", "c": "Silver"},
    {"phone": "+41790001003", "a": "Frau", "b": "Keller", "c": "Gold"},
    {"phone": "+34600001004", "a": "Sra.", "b": "García", "c": "Gold", "callback_data": "vip-es"},
]
_NEWSLETTER = [
    {"phone": f"+4915100002{i:03d}", "a": name, "callback_data": "newsletter"}
    for i, name in enumerate(["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannes"], start=1)
]


def seed_demo_data(state: SandboxState) -> None:
    """Create the demo groups ("VIP customers", "Newsletter", "Staff") and ~19 SMS."""
    now = state.now()
    # The demo shop keeps Berlin's hours: "tomorrow at 09:00" is 09:00 in Berlin, on Berlin's calendar.
    today = times.local_day(now, zone=SHOP_ZONE)

    def local(days: int, hour: int, minute: int = 0) -> int:
        day = today + timedelta(days=days)
        return times.local_to_unix(datetime(day.year, day.month, day.day, hour, minute), zone=SHOP_ZONE, exact=False)

    midnight = local(0, 0)
    tomorrow_9 = local(1, 9)
    tomorrow_14 = local(1, 14)
    next_week = local(7, 10)

    vip = state.add_group(
        "VIP customers",
        "Best customers, for early access to sales",
        columns={"a": "Anrede", "b": "Nachname", "c": "Status"},
    )
    state.add_phones(vip, _VIP)
    newsletter = state.add_group("Newsletter", "Subscribed to the monthly newsletter", columns={"a": "Vorname"})
    state.add_phones(newsletter, _NEWSLETTER)
    state.add_group("Staff", "Shop staff, for shift messages", columns={"a": "Vorname", "b": "Nachname"})

    # Scheduled: the spring-sale campaign (one bulk) across DE/AT/CH/ES/FR, tomorrow morning.
    for i, phone in enumerate(["+4915100001001", "+4915100001011", "+436640001002", "+41790001003", "+33600001005"]):
        state.add_sms(
            phone=phone,
            text=SPRING_SALE_TEXT,
            sender_id="ShopDemo",
            delivery_at=tomorrow_9,
            callback_data="spring-sale",
            bulk_id=SPRING_SALE_BULK_ID,
            source=7,
            created_at=now - 2 * HOUR + i,
        )
    # Scheduled: other single messages.
    scheduled = [
        (
            "+4915100003001",
            "Erinnerung: Ihr Termin ist morgen um 14:00 Uhr. Absagen bitte per Anruf.",
            tomorrow_14,
            None,
        ),
        ("+4915100003002", "Erinnerung: Ihr Termin ist morgen um 14:30 Uhr.", tomorrow_14, "reminder"),
        ("+436640003003", "Alles Gute zum Geburtstag! 🎉 Ihr Gutschein: GEB-2024", tomorrow_9, "birthday"),
        ("+34600003004", "Recordatorio: su cita es mañana a las 10:00. Responda NO para cancelar.", tomorrow_9, None),
        ("+33600003005", "Votre commande est prête. Retrait possible dès lundi prochain.", next_week, "pickup"),
        (
            "+41790003006",
            "Newsletter Mai: neue Kollektion, längere Öffnungszeiten am Samstag, Workshops für Kinder und "
            "ein Gewinnspiel mit tollen Preisen. Alle Details auf unserer Website. Abmelden: STOP an diese Nummer.",
            next_week,
            "newsletter-may",
        ),
        ("+4915100003007", "Ihr Abo verlängert sich nächste Woche automatisch.", next_week, None),
    ]
    for i, (phone, text, delivery_at, callback) in enumerate(scheduled):
        state.add_sms(
            phone=phone,
            text=text,
            sender_id="ShopDemo",
            delivery_at=delivery_at,
            callback_data=callback,
            key_id=2 if i % 2 else 1,
            created_at=now - HOUR + i,
        )
    # Already sent: untouched by any cancel.
    sent = [
        ("+4915100004001", "Ihr Paket wurde zugestellt.", 3 * DAY, None),
        ("+4915100004002", "Ihr Code lautet 482913.", 2 * DAY, "otp"),
        ("+436640004003", "Danke für Ihren Einkauf!", DAY + 5 * HOUR, None),
        ("+34600004004", "Su pedido ha sido enviado.", DAY, None),
        ("+33600004005", "Votre rendez-vous est confirmé.", 6 * HOUR, None),
        ("+4915100004006", "TEST " + SPRING_SALE_TEXT, 3 * HOUR, "spring-sale"),
    ]
    for phone, text, age, callback in sent:
        state.add_sms(
            phone=phone,
            text=text,
            sender_id="ShopDemo",
            callback_data=callback,
            created_at=now - age,
            ip="203.0.113.10",
        )
    # Cancelled through the API yesterday.
    state.add_sms(
        phone="+4915100005001",
        text="Happy hour today 17-19h: 2 for 1!",
        sender_id="ShopDemo",
        delivery_at=midnight - 7 * HOUR,
        status_code=6000,
        created_at=now - 2 * DAY,
    )
