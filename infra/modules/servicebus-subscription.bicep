// One subscription of the topology and its rules. A rule named '$Default' replaces the match-all rule Azure gives
// every new subscription, so the subscription receives exactly what its filter passes, as in the emulator and the
// local bus, which read the same file.
param namespaceName string
param topicName string

@description('One element of a topic\'s Subscriptions in the emulator Config.json schema (Rules optional).')
param subscription object

@description('Message time-to-live in Azure; empty keeps the topology value.')
param messageTimeToLive string

resource topic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' existing = {
  name: '${namespaceName}/${topicName}'
}

resource serviceBusSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = {
  parent: topic
  name: subscription.Name
  properties: {
    lockDuration: subscription.Properties.LockDuration
    maxDeliveryCount: subscription.Properties.MaxDeliveryCount
    deadLetteringOnMessageExpiration: subscription.Properties.DeadLetteringOnMessageExpiration
    defaultMessageTimeToLive: empty(messageTimeToLive) ? subscription.Properties.DefaultMessageTimeToLive : messageTimeToLive
    requiresSession: subscription.Properties.RequiresSession
  }
}

resource rules 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2024-01-01' = [for rule in (contains(subscription, 'Rules') ? subscription.Rules : []): {
  parent: serviceBusSubscription
  name: rule.Name
  properties: {
    filterType: 'SqlFilter'
    sqlFilter: {
      sqlExpression: rule.Properties.SqlFilter.SqlExpression
    }
  }
}]

output name string = serviceBusSubscription.name
