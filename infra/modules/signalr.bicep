// Azure SignalR Service in Serverless mode: in-app delivery to the app's open connections (hub "notifications").
// The app reaches it with its managed identity only (role "SignalR REST API Owner", granted in rbac.bicep): REST
// calls carry an Entra token and client tokens come from the REST API's generateToken, so access keys are disabled
// and no key exists in any setting or vault.
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
    // Access keys off: only Entra ID (the app's managed identity) can call the REST API or issue client tokens.
    disableLocalAuth: true
    disableAadAuth: false
  }
}

output name string = signalR.name
output hostName string = signalR.properties.hostName
