// Azure SignalR Service in Serverless mode: in-app delivery to the app's open connections (hub "notifications").
// The app calls its REST API and signs client tokens with the AccessKey, so the connection string is written to
// Key Vault here (never an output) and the app reads it by reference, like the Notification Hubs one.
// Why not the managed identity: client access tokens must then come from the REST API's generateToken, one extra
// round trip per negotiate; the key stays in Key Vault and is rotated by the runbook (docs/operations.md).
param location string
param tags object
param name string

@description('Free_F1 (20 connections, no SLA) for trials, Standard_S1 (1,000 connections per unit) or Premium_P1 for production.')
@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
])
param sku string

@minValue(1)
@maxValue(100)
param capacity int = 1

@description('Browser origins allowed to open connections (the app\'s web origins); empty means none.')
param corsOrigins array

param keyVaultName string
param secretName string

@description('Which access key the app uses (rotation, docs/operations.md).')
@allowed([
  'primary'
  'secondary'
])
param keyInUse string = 'primary'

resource signalR 'Microsoft.SignalRService/signalR@2024-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'SignalR'
  sku: {
    name: sku
    capacity: capacity
  }
  properties: {
    features: [
      {
        flag: 'ServiceMode'
        value: 'Serverless'
      }
      {
        flag: 'EnableConnectivityLogs'
        value: 'True'
      }
      {
        flag: 'EnableMessagingLogs'
        value: 'True'
      }
    ]
    cors: {
      allowedOrigins: corsOrigins
    }
    tls: {
      clientCertEnabled: false
    }
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: false
    disableAadAuth: false
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource connectionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: the value is a SignalR access key rotated by the runbook (docs/operations.md); an expiry date would stop the app without rotating anything.
  parent: vault
  name: secretName
  properties: {
    contentType: 'Azure SignalR Service connection string (AccessKey)'
    value: keyInUse == 'primary' ? signalR.listKeys().primaryConnectionString : signalR.listKeys().secondaryConnectionString
  }
}

output name string = signalR.name
output hostName string = signalR.properties.hostName
output secretName string = connectionSecret.name
