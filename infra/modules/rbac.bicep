// Role assignments for the app's user-assigned identity: the minimum data-plane roles, each on the narrowest scope.
param principalId string
param storageAccountName string
param serviceBusNamespaceName string
param keyVaultName string
param nhSecretName string
param signalRName string
param appInsightsName string

@description('Also grant Service Bus Data Owner so the scale controller can read exact subscription lengths (docs/operations.md).')
param grantServiceBusOwnerForScaling bool

// Storage Blob Data Owner: the Functions host's leases and state, and the Flex deployment package container.
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Table Data Contributor: the app's tables (installations mirror, preferences, delivery log, quarantine).
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// Azure Service Bus Data Receiver: the topic triggers and the dead-letter tools receive from subscriptions.
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
// Azure Service Bus Data Sender: POST /api/events, the LoB simulator and dead-letter replay publish to topics.
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
// Azure Service Bus Data Owner: only when grantServiceBusOwnerForScaling; lets the scaler read entity runtime info.
var serviceBusDataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'
// Key Vault Secrets User: resolve the Notification Hubs connection string reference (that one secret only).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// SignalR REST API Owner: presence checks, sends to users and client tokens (generateToken) over the REST API only;
// no access keys, no server connections (SignalR App Server) and no control plane (SignalR Service Owner is broader).
var signalRRestApiOwner = 'fd53cd77-2268-407a-8f46-7e7863d0f521'
// Monitoring Metrics Publisher: send telemetry to Application Insights with an Entra token (local auth is off).
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
  resource nhSecret 'secrets' existing = {
    name: nhSecretName
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
  }
}

// Namespace scope: a topic trigger needs the role on the subscription, and topic-only scope does not cover it.
resource busReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, principalId, serviceBusDataReceiver)
  scope: serviceBus
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
  }
}

resource busSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, principalId, serviceBusDataSender)
  scope: serviceBus
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
  }
}

resource busOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantServiceBusOwnerForScaling) {
  name: guid(serviceBus.id, principalId, serviceBusDataOwner)
  scope: serviceBus
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwner)
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault::nhSecret.id, principalId, keyVaultSecretsUser)
  scope: vault::nhSecret
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource signalR 'Microsoft.SignalRService/signalR@2024-03-01' existing = {
  name: signalRName
}

resource signalRRestApi 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(signalR.id, principalId, signalRRestApiOwner)
  scope: signalR
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', signalRRestApiOwner)
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}
