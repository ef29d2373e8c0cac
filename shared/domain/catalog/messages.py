"""Every notification's title and body in every supported language: the only place user-facing text lives.

Keys are an event type, or an event type plus a variant (``.approved``); ``{field}`` placeholders are the
payload's wire names, already formatted for the language (amounts as money, dates spelled out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["MESSAGES", "Message"]


class Message(NamedTuple):
    title: str
    body: str


MESSAGES: Mapping[str, Mapping[str, Message]] = {
    "hr.employee.joined": {
        "en": Message("New colleague", "{displayName} has joined {team}."),
        "de": Message("Neu im Team", "{displayName} ist neu im Team {team}."),
        "es": Message("Nueva incorporación", "{displayName} se ha incorporado al equipo {team}."),
    },
    "hr.employee.left": {
        "en": Message("Farewell", "{displayName} has left the company."),
        "de": Message("Abschied", "{displayName} hat das Unternehmen verlassen."),
        "es": Message("Despedida", "{displayName} ha dejado la empresa."),
    },
    "hr.employee.team_changed": {
        "en": Message("Team change", "{displayName} has moved from {fromTeam} to {toTeam}."),
        "de": Message("Teamwechsel", "{displayName} ist von {fromTeam} zu {toTeam} gewechselt."),
        "es": Message("Cambio de equipo", "{displayName} ha pasado de {fromTeam} a {toTeam}."),
    },
    "finance.budget_approval.requested": {
        "en": Message("Approval needed", "{requesterName} requests {amount} for {purpose}."),
        "de": Message("Freigabe erforderlich", "{requesterName} beantragt {amount} für {purpose}."),
        "es": Message("Aprobación pendiente", "{requesterName} solicita {amount} para {purpose}."),
    },
    "finance.budget_approval.decided.approved": {
        "en": Message("Budget approved", "{approverName} approved your request for {amount}."),
        "de": Message("Budget genehmigt", "{approverName} hat Ihren Antrag über {amount} genehmigt."),
        "es": Message("Presupuesto aprobado", "{approverName} ha aprobado su solicitud de {amount}."),
    },
    "finance.budget_approval.decided.rejected": {
        "en": Message("Budget rejected", "{approverName} rejected your request for {amount}."),
        "de": Message("Budget abgelehnt", "{approverName} hat Ihren Antrag über {amount} abgelehnt."),
        "es": Message("Presupuesto rechazado", "{approverName} ha rechazado su solicitud de {amount}."),
    },
    "accounts.debit.posted": {
        "en": Message("Debit posted", "{amount} paid to {merchant}."),
        "de": Message("Abbuchung", "{amount} an {merchant} gezahlt."),
        "es": Message("Cargo en su cuenta", "{amount} pagados a {merchant}."),
    },
    "orders.order.placed": {
        "en": Message("Order received", "We have received your order {orderId} ({total})."),
        "de": Message("Bestellung eingegangen", "Wir haben Ihre Bestellung {orderId} ({total}) erhalten."),
        "es": Message("Pedido recibido", "Hemos recibido su pedido {orderId} ({total})."),
    },
    "orders.order.confirmed": {
        "en": Message("Order confirmed", "Your order {orderId} ({total}) is confirmed."),
        "de": Message("Bestellung bestätigt", "Ihre Bestellung {orderId} ({total}) ist bestätigt."),
        "es": Message("Pedido confirmado", "Su pedido {orderId} ({total}) está confirmado."),
    },
    "orders.order.shipped": {
        "en": Message("Order shipped", "Your order {orderId} is on its way with {carrier}."),
        "de": Message("Bestellung versandt", "Ihre Bestellung {orderId} ist mit {carrier} unterwegs."),
        "es": Message("Pedido enviado", "Su pedido {orderId} está en camino con {carrier}."),
    },
    "orders.order.shipped.dated": {
        "en": Message("Order shipped", "Your order {orderId} is on its way with {carrier}, due {estimatedDelivery}."),
        "de": Message(
            "Bestellung versandt",
            "Ihre Bestellung {orderId} ist mit {carrier} unterwegs, Zustellung voraussichtlich am {estimatedDelivery}.",
        ),
        "es": Message(
            "Pedido enviado",
            "Su pedido {orderId} está en camino con {carrier}, entrega prevista el {estimatedDelivery}.",
        ),
    },
    "orders.order.delivered": {
        "en": Message("Order delivered", "Your order {orderId} has been delivered."),
        "de": Message("Bestellung zugestellt", "Ihre Bestellung {orderId} wurde zugestellt."),
        "es": Message("Pedido entregado", "Su pedido {orderId} ha sido entregado."),
    },
    "orders.order.rejected.unknown_sku": {
        "en": Message("Order not accepted", "Your order {orderId} contains an item we do not sell."),
        "de": Message("Bestellung abgelehnt", "Ihre Bestellung {orderId} enthält einen Artikel, den wir nicht führen."),
        "es": Message("Pedido no aceptado", "Su pedido {orderId} contiene un artículo que no vendemos."),
    },
    "orders.order.rejected.currency_mismatch": {
        "en": Message("Order not accepted", "Your order {orderId} is not in a currency we accept."),
        "de": Message("Bestellung abgelehnt", "Ihre Bestellung {orderId} ist nicht in einer unserer Währungen."),
        "es": Message("Pedido no aceptado", "Su pedido {orderId} no está en una moneda que aceptemos."),
    },
    "orders.order.rejected.price_mismatch": {
        "en": Message("Order not accepted", "The prices in your order {orderId} have changed; please order again."),
        "de": Message(
            "Bestellung abgelehnt", "Die Preise Ihrer Bestellung {orderId} haben sich geändert; bitte neu bestellen."
        ),
        "es": Message(
            "Pedido no aceptado", "Los precios de su pedido {orderId} han cambiado; vuelva a hacer el pedido."
        ),
    },
    "orders.order.rejected.payment_declined": {
        "en": Message("Payment declined", "The payment of {total} for your order {orderId} was declined."),
        "de": Message("Zahlung abgelehnt", "Die Zahlung über {total} für Ihre Bestellung {orderId} wurde abgelehnt."),
        "es": Message("Pago rechazado", "El pago de {total} de su pedido {orderId} ha sido rechazado."),
    },
}
