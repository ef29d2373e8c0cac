// Notification Hubs namespace and hub with its PNS credentials, and a Listen+Send rule for the backend whose
// connection string goes straight into Key Vault: it never appears in an output, a parameter or an app setting.
param location string
param tags object
param namespaceName string
param hubName string

@allowed([
  'Free'
  'Basic'
  'Standard'
])
param sku string

@description('Key Vault that receives the connection string.')
param keyVaultName string

@description('Name of the Key Vault secret holding the Listen+Send connection string.')
param secretName string

@description('Which key of the backend rule the secret carries; flip it to rotate keys without downtime (docs/operations.md).')
@allowed([
  'primary'
  'secondary'
])
param keyInUse string

@description('APNs token authentication: the 10-character key id of the .p8 key; empty leaves APNs unconfigured.')
param apnsKeyId string
@description('APNs token authentication: the 10-character Apple team id.')
param apnsTeamId string
@description('APNs token authentication: the app bundle id.')
param apnsBundleId string
@description('APNs environment of the app build: sandbox (development) or production.')
@allowed([
  'sandbox'
  'production'
])
param apnsEnvironment string
@description('APNs token authentication: the contents of the .p8 key without the BEGIN/END lines.')
@secure()
param apnsPrivateKey string

@description('FCM v1: the Firebase project id; empty leaves FCM v1 unconfigured.')
param fcmProjectId string
@description('FCM v1: client_email of the service account.')
param fcmClientEmail string
@description('FCM v1: private_key of the service account (PEM).')
@secure()
param fcmPrivateKey string

@description('WNS: package SID; empty leaves WNS unconfigured.')
param wnsPackageSid string
@description('WNS: client secret.')
@secure()
param wnsSecretKey string

// Token-based APNs endpoints, as Notification Hubs expects them.
var apnsEndpoints = {
  sandbox: 'https://api.development.push.apple.com:443/3/device'
  production: 'https://api.push.apple.com:443/3/device'
}

var apnsCredential = empty(apnsKeyId) ? {} : {
  apnsCredential: {
    properties: {
      endpoint: apnsEndpoints[apnsEnvironment]
      keyId: apnsKeyId
      appId: apnsTeamId
      appName: apnsBundleId
      token: apnsPrivateKey
    }
  }
}

var fcmV1Credential = empty(fcmProjectId) ? {} : {
  fcmV1Credential: {
    properties: {
      projectId: fcmProjectId
      clientEmail: fcmClientEmail
      privateKey: fcmPrivateKey
    }
  }
}

var wnsCredential = empty(wnsPackageSid) ? {} : {
  wnsCredential: {
    properties: {
      packageSid: wnsPackageSid
      secretKey: wnsSecretKey
      windowsLiveEndpoint: 'https://login.live.com/accesstoken.srf'
    }
  }
}

// 2023-10-01-preview: the stable 2023-09-01 API has no fcmV1Credential, and FCM legacy is retired.
resource namespace 'Microsoft.NotificationHubs/namespaces@2023-10-01-preview' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    namespaceType: 'NotificationHub'
  }
}

resource hub 'Microsoft.NotificationHubs/namespaces/notificationHubs@2023-10-01-preview' = {
  parent: namespace
  name: hubName
  location: location
  tags: tags
  properties: union(apnsCredential, fcmV1Credential, wnsCredential)
}

// The backend needs Listen (installations) and Send (notifications), never Manage.
resource backendRule 'Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules@2023-10-01-preview' = {
  parent: hub
  name: 'backend-listen-send'
  properties: {
    rights: [
      'Listen'
      'Send'
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource connectionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: the value is a Notification Hubs SAS key rotated by the runbook (docs/operations.md); an expiry date would stop the app without rotating anything.
  parent: vault
  name: secretName
  properties: {
    contentType: 'Notification Hubs connection string (Listen, Send)'
    value: keyInUse == 'primary' ? backendRule.listKeys().primaryConnectionString : backendRule.listKeys().secondaryConnectionString
  }
}

output namespaceName string = namespace.name
output hubName string = hub.name
output secretName string = connectionSecret.name
