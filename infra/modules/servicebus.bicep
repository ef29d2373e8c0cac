// Service Bus Standard namespace with the topics and subscriptions of infra/servicebus-topology.json.
// The topology file uses the Service Bus emulator's Config.json schema, so the emulator, the local bus
// and Azure all read the same file.
param location string
param tags object
param name string

@description('Message time-to-live in Azure (ISO 8601). Empty keeps the topology value, which the emulator caps at PT1H.')
param messageTimeToLive string

var topology = loadJsonContent('../servicebus-topology.json')
var topics = topology.UserConfig.Namespaces[0].Topics

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // Entra ID only: no SAS keys, so no connection string with a secret exists in Azure.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

module topicModules 'servicebus-topic.bicep' = [for topic in topics: {
  name: 'sbt-${topic.Name}'
  params: {
    namespaceName: namespace.name
    topic: topic
    messageTimeToLive: messageTimeToLive
  }
}]

output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output topicNames array = [for topic in topics: topic.Name]
