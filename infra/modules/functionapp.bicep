// The function app on Flex Consumption (Linux, Python), its identity-based settings and App Service Authentication.
param location string
param tags object
param planName string
param appName string
param identityName string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string
param serviceBusNamespaceName string
param keyVaultName string
param nhSecretName string
param nhHubName string
@description('Host name of the SignalR Service; the app reaches it with its managed identity.')
param signalRHostName string

@description('Browser origins allowed to call negotiate and the inbox routes (the app answers CORS itself).')
param corsOrigins array

@minValue(1)
@maxValue(300)
param inAppFallbackSeconds int

@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int

param lobSimulatorEnabled bool
param lobSimulatorSchedule string

@description('LOB_PUBLISHER_SOURCES: {"roles": {app role: [source]}, "principals": {object id: [source]}}.')
param lobPublisherSources object
@description('Order fulfilment: seconds between confirmation and shipping, and between shipping and delivery.')
param ordersShipAfterSeconds int = 3600
param ordersDeliverAfterSeconds int = 86400

@description('NCRONTAB schedule of the timer that relays order outbox rows their writer could not publish at once.')
param ordersOutboxSchedule string = '0 */1 * * * *'

@description('Client id of the Entra app registration that represents the API (App Service Authentication).')
param authClientId string

@description('Accepted token audiences; empty means api://<authClientId>.')
param authAllowedAudiences array

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is not offered as a plan setting for FC1 in this template.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design; always-ready instances are a cost decision (docs/operations.md).
  // checkov:skip=CKV_AZURE_213: Flex Consumption replaces unhealthy instances itself; /api/health is probed by deploy.sh and the runbook.
  // checkov:skip=CKV_AZURE_17: client certificates are not how callers authenticate; App Service Authentication (Entra ID) is.
  // checkov:skip=CKV_AZURE_16: the app uses a user-assigned identity (CKV_AZURE_16 looks for a system-assigned one).
  // checkov:skip=CKV_AZURE_71: same reason as CKV_AZURE_16: identity type is UserAssigned.
  // checkov:skip=CKV_AZURE_222: public network access is the product: devices and LoB systems call the API over the internet behind Entra ID authentication.
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity (the app has no system identity).
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Browser apps call negotiate and the inbox cross-origin, with credentials. Set here, App Service answers CORS
      // itself and its CORS takes precedence over the app's own (PUSH_CORS_ORIGINS: the dev host and other hosts).
      cors: {
        allowedOrigins: corsOrigins
        supportCredentials: true
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Every name the code reads is in shared/composition/settings.py APP_SETTINGS; tests/infra checks this object
// against it. Flex Consumption sets the runtime in functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and friends are
// absent. WEBSITE_AUTH_ENABLED is never set here: App Service sets it when authsettingsV2 below turns
// authentication on, and it is what makes the app trust X-MS-CLIENT-PRINCIPAL (PLATFORM_SETTINGS).
resource appSettings 'Microsoft.Web/sites/config@2024-11-01' = {
  // checkov:skip=CKV_AZURE_13: checkov applies Microsoft.Web/sites checks to this sites/config child; the site is checked itself.
  // checkov:skip=CKV_AZURE_63: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_65: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_66: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_80: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_88: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_222: sites/config child, see CKV_AZURE_13.
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    // The Python worker's OpenTelemetry integration (with host.json "telemetryMode": "OpenTelemetry").
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
    AUTH_MODE: 'easyauth'
    AZURE_CLIENT_ID: identity.properties.clientId
    PUSH_NH_CONNECTION_STRING: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${nhSecretName})'
    PUSH_NH_HUB_NAME: nhHubName
    PUSH_TABLES_ENDPOINT: storage.properties.primaryEndpoints.table
    ServiceBusConnection__fullyQualifiedNamespace: '${serviceBusNamespaceName}.servicebus.windows.net'
    ServiceBusConnection__credential: 'managedidentity'
    ServiceBusConnection__clientId: identity.properties.clientId
    LOB_SIMULATOR_ENABLED: lobSimulatorEnabled ? 'true' : 'false'
    LOB_SIMULATOR_SCHEDULE: lobSimulatorSchedule
    PUSH_DECISION_RETENTION_DAYS: '30'
    LOB_PUBLISHER_SOURCES: string(lobPublisherSources)
    ORDERS_SHIP_AFTER_SECONDS: string(ordersShipAfterSeconds)
    ORDERS_DELIVER_AFTER_SECONDS: string(ordersDeliverAfterSeconds)
    ORDERS_OUTBOX_SCHEDULE: ordersOutboxSchedule
    // Campaign worker: every 30 s ("send now" campaigns wait at most that long; scheduled ones keep NH's exact time).
    CAMPAIGN_SCHEDULE: '*/30 * * * * *'
    INSTALLATION_SWEEP_SCHEDULE: '0 30 3 * * *'
    INSTALLATION_IDLE_DAYS: '270'
    PUSH_SIGNALR_ENDPOINT: 'https://${signalRHostName}'
    PUSH_INAPP_FALLBACK_SECONDS: string(inAppFallbackSeconds)
    PUSH_CORS_ORIGINS: join(corsOrigins, ',')
  }
}

// App Service Authentication in front of the API: Entra ID bearer tokens, 401 for anonymous callers
// except the health probe and the API description. The app trusts X-MS-CLIENT-PRINCIPAL only with AUTH_MODE=easyauth
// and only where the platform reports authentication on (WEBSITE_AUTH_ENABLED=True, set from platform.enabled):
// switched off, every authenticated route answers 401 and /api/health 503, so deploy.sh's probe fails.
resource authSettings 'Microsoft.Web/sites/config@2024-11-01' = {
  // checkov:skip=CKV_AZURE_13: checkov applies Microsoft.Web/sites checks to this sites/config child; the site is checked itself.
  // checkov:skip=CKV_AZURE_63: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_65: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_66: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_80: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_88: sites/config child, see CKV_AZURE_13.
  // checkov:skip=CKV_AZURE_222: sites/config child, see CKV_AZURE_13.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/health'
        '/api/openapi.json'
        // The shop page and its files are public; its data calls (/api/products, /api/orders) still need a sign-in.
        '/api/shop'
        '/api/shop/shop.js'
        '/api/shop/shop.css'
        '/api/shop/signalr.min.js'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${subscription().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: empty(authAllowedAudiences) ? [
            'api://${authClientId}'
          ] : authAllowedAudiences
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
