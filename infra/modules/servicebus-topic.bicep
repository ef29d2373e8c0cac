// One topic of the topology and its subscriptions (Bicep allows no nested resource loops, hence a module per topic).
param namespaceName string

@description('One element of UserConfig.Namespaces[0].Topics in the emulator Config.json schema.')
param topic object

@description('Message time-to-live in Azure; empty keeps the topology value.')
param messageTimeToLive string

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: namespaceName
}

resource serviceBusTopic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: namespace
  name: topic.Name
  properties: {
    requiresDuplicateDetection: topic.Properties.RequiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: topic.Properties.DuplicateDetectionHistoryTimeWindow
    defaultMessageTimeToLive: empty(messageTimeToLive) ? topic.Properties.DefaultMessageTimeToLive : messageTimeToLive
    enablePartitioning: false
    supportOrdering: false
  }
}

// One module per subscription: Bicep allows no nested loops, and a subscription's rules are a loop of their own.
module subscriptionModules 'servicebus-subscription.bicep' = [for sub in topic.Subscriptions: {
  name: 'sbs-${topic.Name}-${sub.Name}'
  params: {
    namespaceName: namespaceName
    topicName: serviceBusTopic.name
    subscription: sub
    messageTimeToLive: messageTimeToLive
  }
}]

output name string = serviceBusTopic.name
