// Enterprise Push: every Azure resource of the system, deployed into one resource group.
// Deploy with infra/deploy.sh; parameters per environment live in infra/env/<env>.parameters.json and the PNS
// credentials in a secrets parameters file kept outside git (docs/operations.md).
targetScope = 'resourceGroup'

@description('Environment name (dev, test, prod); part of every resource name.')
@minLength(2)
@maxLength(8)
param environmentName string

param location string = resourceGroup().location

@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Flex Consumption instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound of Flex Consumption instances (cost and downstream quota guard).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Concurrent HTTP requests per instance (Flex default for Python is 1).')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 1

@description('Notification Hubs tier: Free for trials, Standard for production (telemetry, scheduled sends, SLA).')
@allowed([
  'Free'
  'Basic'
  'Standard'
])
param notificationHubsSku string = 'Free'

@description('Which key of the backend authorization rule the app uses (rotation, docs/operations.md).')
@allowed([
  'primary'
  'secondary'
])
param notificationHubsKeyInUse string = 'primary'

@description('Azure SignalR Service tier for in-app delivery: Free_F1 for trials, Standard_S1 for production.')
@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
])
param signalRSku string = 'Free_F1'

@description('SignalR units (Standard: 1,000 concurrent connections each).')
@minValue(1)
@maxValue(100)
param signalRCapacity int = 1

@description('Browser origins of the app (e.g. https://app.contoso.com): SignalR CORS and the app\'s own CORS.')
param corsOrigins array = []

@description('Seconds an in-app notification may stay unconfirmed before the push goes out.')
@minValue(1)
@maxValue(300)
param inAppFallbackSeconds int = 5

@description('Client id of the Entra app registration of the API, used by App Service Authentication.')
param authClientId string

@description('Accepted token audiences; empty means api://<authClientId>.')
param authAllowedAudiences array = []

@description('Which CloudEvent sources each LoB publisher may post to /api/events: {"roles": {app role: [source]}, "principals": {service principal object id: [source]}}. Roles are app roles of the API registration assigned to each LoB system (docs/operations.md). Empty: no publisher may publish.')
param lobPublisherSources object = {}

@description('Publish simulated LoB events on a timer. Off in Azure unless a demo needs it.')
param lobSimulatorEnabled bool = false

@description('NCRONTAB schedule of the LoB simulator (UTC; Flex has no WEBSITE_TIME_ZONE).')
param lobSimulatorSchedule string = '0 */5 * * * *'

@description('Service Bus message time-to-live in Azure (ISO 8601); empty keeps the topology value (PT1H, the emulator maximum).')
param messageTimeToLive string = ''

@description('Grant Service Bus Data Owner as well, for exact queue lengths in scale decisions.')
param grantServiceBusOwnerForScaling bool = false

@description('Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('E-mail address for alerts; empty creates the alerts without a notification target.')
param alertEmail string = ''

// PNS credentials: pass them in a secrets parameters file (never committed); empty leaves a platform unconfigured.
param apnsKeyId string = ''
param apnsTeamId string = ''
param apnsBundleId string = ''
@allowed([
  'sandbox'
  'production'
])
param apnsEnvironment string = 'sandbox'
@secure()
param apnsPrivateKey string = ''
param fcmProjectId string = ''
param fcmClientEmail string = ''
@secure()
param fcmPrivateKey string = ''
param wnsPackageSid string = ''
@secure()
param wnsSecretKey string = ''

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var prefix = 'push-${environmentName}'
var tags = {
  application: 'enterprise-push'
  environment: environmentName
}
var names = {
  identity: 'id-${prefix}'
  workspace: 'log-${prefix}'
  appInsights: 'appi-${prefix}'
  storage: take('stpush${environmentName}${token}', 24)
  deploymentContainer: 'app-package'
  keyVault: take('kv-push-${environmentName}-${token}', 24)
  serviceBus: 'sb-${prefix}-${token}'
  nhNamespace: 'ntfns-${prefix}-${token}'
  nhHub: 'enterprise-push'
  nhSecret: 'nh-connection-string'
  signalR: 'sigr-${prefix}-${token}'
  plan: 'plan-${prefix}'
  functionApp: 'func-${prefix}-${token}'
}
// The shop page is served by the function app itself, and its SignalR client connects to the service cross-origin,
// so the service accepts the app's default host (Function Apps without a unique default hostname get
// <name>.azurewebsites.net) besides the origins the caller lists.
var signalROrigins = union(corsOrigins, ['https://${names.functionApp}.azurewebsites.net'])

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    tags: tags
    name: names.identity
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    retentionInDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: names.storage
    deploymentContainerName: names.deploymentContainer
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: names.keyVault
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    location: location
    tags: tags
    name: names.serviceBus
    messageTimeToLive: messageTimeToLive
  }
}

module notificationHubs 'modules/notificationhubs.bicep' = {
  name: 'notificationhubs'
  params: {
    location: location
    tags: tags
    namespaceName: names.nhNamespace
    hubName: names.nhHub
    sku: notificationHubsSku
    keyVaultName: keyVault.outputs.name
    secretName: names.nhSecret
    keyInUse: notificationHubsKeyInUse
    apnsKeyId: apnsKeyId
    apnsTeamId: apnsTeamId
    apnsBundleId: apnsBundleId
    apnsEnvironment: apnsEnvironment
    apnsPrivateKey: apnsPrivateKey
    fcmProjectId: fcmProjectId
    fcmClientEmail: fcmClientEmail
    fcmPrivateKey: fcmPrivateKey
    wnsPackageSid: wnsPackageSid
    wnsSecretKey: wnsSecretKey
  }
}

module signalR 'modules/signalr.bicep' = {
  name: 'signalr'
  params: {
    location: location
    tags: tags
    name: names.signalR
    sku: signalRSku
    capacity: signalRCapacity
    corsOrigins: signalROrigins
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    nhSecretName: notificationHubs.outputs.secretName
    signalRName: signalR.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    grantServiceBusOwnerForScaling: grantServiceBusOwnerForScaling
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // The first start resolves the Key Vault reference and opens storage and Service Bus: roles must exist by then.
  dependsOn: [
    rbac
  ]
  params: {
    location: location
    tags: tags
    planName: names.plan
    appName: names.functionApp
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    deploymentContainerName: names.deploymentContainer
    appInsightsName: monitoring.outputs.appInsightsName
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    nhSecretName: notificationHubs.outputs.secretName
    nhHubName: notificationHubs.outputs.hubName
    signalRHostName: signalR.outputs.hostName
    corsOrigins: corsOrigins
    inAppFallbackSeconds: inAppFallbackSeconds
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    lobSimulatorEnabled: lobSimulatorEnabled
    lobSimulatorSchedule: lobSimulatorSchedule
    lobPublisherSources: lobPublisherSources
    authClientId: authClientId
    authAllowedAudiences: authAllowedAudiences
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    tags: tags
    prefix: prefix
    serviceBusNamespaceName: serviceBus.outputs.name
    nhNamespaceName: notificationHubs.outputs.namespaceName
    nhHubName: notificationHubs.outputs.hubName
    appInsightsName: monitoring.outputs.appInsightsName
    location: location
    alertEmail: alertEmail
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  params: {
    workspaceName: monitoring.outputs.workspaceName
    serviceBusNamespaceName: serviceBus.outputs.name
    nhNamespaceName: notificationHubs.outputs.namespaceName
    nhHubName: notificationHubs.outputs.hubName
    signalRName: signalR.outputs.name
  }
}

// Names and the URL only: nothing secret leaves the deployment.
output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output notificationHubsNamespace string = notificationHubs.outputs.namespaceName
output notificationHubName string = notificationHubs.outputs.hubName
output keyVaultName string = keyVault.outputs.name
output storageAccountName string = storage.outputs.name
output appInsightsName string = monitoring.outputs.appInsightsName
